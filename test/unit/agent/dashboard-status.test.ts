import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServers, stateOf } from '../../../src/agent/dashboard-status.js';

// GET /v1/dashboard/status reads HAProxy's `show stat`: the parse, on a capture of HAProxy 2.6's CSV.

const HEADER =
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo';
const row = (px: string, sv: string, scur: number, status: string, addr: string) => {
  const cols = HEADER.slice(2).split(',');
  const f = cols.map(() => '');
  f[cols.indexOf('pxname')] = px;
  f[cols.indexOf('svname')] = sv;
  f[cols.indexOf('scur')] = String(scur);
  f[cols.indexOf('status')] = status;
  f[cols.indexOf('addr')] = addr;
  return f.join(',');
};

describe('dashboard status: HAProxy servers', () => {
  it('lists each backend server with its state, sessions and container; free slots and frontends left out', () => {
    const text = [
      HEADER,
      row('fe_web', 'FRONTEND', 3, 'OPEN', ''),
      row('be_web', 's1', 2, 'no check', '127.0.0.1:4001'),
      row('be_web', 's2', 1, 'DRAIN', '127.0.0.1:4002'),
      row('be_web', 's3', 0, 'MAINT', '0.0.0.0:0'),
      row('be_web', 'BACKEND', 3, 'UP', ''),
      row('stats', 'FRONTEND', 0, 'OPEN', ''),
      '',
    ].join('\n');
    const backends = parseServers(text, new Map([['127.0.0.1:4001', 'abc']]));
    assert.deepEqual(backends, [
      {
        name: 'be_web',
        servers: [
          {
            name: 's1',
            address: '127.0.0.1:4001',
            state: 'up',
            status: 'no check',
            sessions: 2,
            containerId: 'abc',
          },
          { name: 's2', address: '127.0.0.1:4002', state: 'drain', status: 'DRAIN', sessions: 1 },
        ],
      },
    ]);
    assert.deepEqual(parseServers('garbage', new Map()), []);
  });

  it('maps HAProxy status words to up, down, drain and maint', () => {
    assert.equal(stateOf('UP'), 'up');
    assert.equal(stateOf('UP 1/3'), 'up');
    assert.equal(stateOf('no check'), 'up');
    assert.equal(stateOf('DOWN'), 'down');
    assert.equal(stateOf('DOWN 1/2'), 'down');
    assert.equal(stateOf('DRAIN'), 'drain');
    assert.equal(stateOf('NOLB'), 'drain');
    assert.equal(stateOf('MAINT'), 'maint');
    assert.equal(stateOf('MAINT (via be/s1)'), 'maint');
  });
});
