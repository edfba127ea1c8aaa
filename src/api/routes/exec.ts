import { PassThrough, Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { errorCode, InvalidArgumentError } from '../../../runtime/base/errors.js';
import { checker } from '../../../runtime/base/schema.js';
import type { ExecRequest } from '../../../runtime/runtime.js';
import {
  documented,
  ExecRequest as ExecRequestSchema,
  ExecResult,
  errorBody,
  type IdParams as Id,
  IdParams as IdSchema,
  NoQuery,
  responses,
  SwitchingProtocols,
} from '../schemas.js';
import { type ApiDeps, EXEC_STDERR, EXEC_STDIN, EXEC_STDOUT } from '../types.js';

type IdParams = { Params: Id };

const checkExec = checker(ExecRequestSchema, 'request');

/** An exec request from a client (the schema's ExecRequest): `cmd` a non-empty list of strings; env, user and workdir optional. */
export function execRequest(body: unknown): ExecRequest {
  const b = checkExec(body ?? {});
  return {
    cmd: b.cmd,
    ...(b.env ? { env: b.env } : {}),
    ...(b.user !== undefined ? { user: b.user } : {}),
    ...(b.workdir !== undefined ? { workdir: b.workdir } : {}),
  };
}

/**
 * Exec, whole or streamed.
 *
 * `POST /v1/containers/:id/exec` takes `{cmd, env?, user?, workdir?}` and
 * answers `{exitCode, stdout, stderr}` when the command has ended (health
 * checks and scripts).
 *
 * `GET /v1/containers/:id/exec/ws` (WebSocket; `berth exec`) streams: the
 * client's first message is that JSON request, plus `"stdin": true` to
 * attach standard input; then binary frames `[0, ...bytes]` are stdin and the
 * text frame `{"eof": true}` closes it. The agent sends `[1, ...]` (stdout)
 * and `[2, ...]` (stderr) as the command writes, then `{"exit": code}` or
 * `{"error": {"code", "message"}}`, and closes. A client that goes away
 * kills the command. Output waits while the client is slow (backpressure).
 */
export function registerExecRoutes(app: FastifyInstance, { runtime }: ApiDeps): void {
  app.post<IdParams>(
    '/v1/containers/:id/exec',
    {
      schema: {
        params: IdSchema,
        querystring: NoQuery,
        body: ExecRequestSchema,
        response: responses({ 200: ExecResult }),
      },
    },
    async (req) => runtime.exec(req.params.id, execRequest(req.body)),
  );

  const wsSchema = {
    params: IdSchema,
    querystring: NoQuery,
    description:
      'WebSocket: the first message is the JSON ExecRequest (with stdin), then binary frames [0, ...stdin] and {"eof": true}; the agent sends [1, ...stdout], [2, ...stderr], then {"exit": code} or an ErrorBody',
    response: responses({ 101: SwitchingProtocols }),
  };
  app.get<IdParams>(
    '/v1/containers/:id/exec/ws',
    { websocket: true, schema: documented(wsSchema) },
    (socket, req) => {
      const ac = new AbortController();
      socket.on('close', () => ac.abort());
      socket.once('message', (first, isBinary) => {
        void (async () => {
          try {
            if (isBinary) throw new InvalidArgumentError('the first message must be the JSON exec request');
            const body = JSON.parse(String(first)) as Record<string, unknown>;
            const stdin = body.stdin === true ? stdinFrom(socket) : undefined;
            const stdout = frames(socket, EXEC_STDOUT);
            const stderr = frames(socket, EXEC_STDERR);
            const r = await runtime.exec(req.params.id, execRequest(body), {
              ...(stdin ? { stdin } : {}),
              stdout,
              stderr,
              signal: ac.signal,
            });
            // The last output frames go out before the exit does.
            await Promise.all([stdout, stderr].map((w) => new Promise((done) => w.end(done))));
            socket.send(JSON.stringify({ exit: r.exitCode }));
            socket.close(1000);
          } catch (err) {
            if (ac.signal.aborted) return;
            const code = err instanceof SyntaxError ? 'InvalidArgument' : (errorCode(err) ?? 'Internal');
            socket.send(JSON.stringify(errorBody(err, code)));
            socket.close(1000);
          }
        })();
      });
    },
  );
}

/** A Writable whose chunks go out as binary frames tagged with `channel`; a write completes once sent. */
function frames(socket: WebSocket, channel: number): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      if (socket.readyState !== socket.OPEN) return done();
      socket.send(Buffer.concat([Buffer.of(channel), chunk]), { binary: true }, () => done());
    },
  });
}

/** The client's stdin frames as a stream; the socket pauses while the command does not read. */
function stdinFrom(socket: WebSocket): PassThrough {
  const stdin = new PassThrough();
  stdin.on('drain', () => socket.resume());
  socket.on('message', (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
    if (!isBinary) {
      if (/"eof"\s*:\s*true/.test(buf.toString())) stdin.end();
      return;
    }
    if (buf[0] !== EXEC_STDIN || stdin.writableEnded) return;
    if (!stdin.write(buf.subarray(1))) socket.pause();
  });
  socket.on('close', () => stdin.end());
  return stdin;
}
