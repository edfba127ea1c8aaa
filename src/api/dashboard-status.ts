import { type Static, Type } from '@sinclair/typebox';
import { StringEnum } from '../../runtime/base/schema.js';

/**
 * `GET /v1/dashboard/status`: what the dashboard's services and agent views
 * show beside the containers, read-only: the catalog's instances, each
 * HAProxy backend's servers as HAProxy itself reports them (`show stat`:
 * status and current sessions), and the log shipping backlog. Declared here
 * (not in the route file) so ApiDeps can name the type without a cycle.
 */
export const DashboardStatus = Type.Object(
  {
    catalog: Type.Object({
      kind: StringEnum(['local', 'consul'] as const),
      stale: Type.Boolean({ description: 'the view could not be refreshed from its source (Consul down)' }),
      services: Type.Array(
        Type.Object({
          name: Type.String(),
          instances: Type.Array(
            Type.Object({
              id: Type.String(),
              address: Type.String(),
              port: Type.Integer(),
              node: Type.String(),
              health: Type.String({ description: 'passing, warning, critical or maintenance' }),
              containerId: Type.Optional(Type.String()),
            }),
          ),
        }),
      ),
    }),
    haproxy: Type.Object({
      running: Type.Boolean(),
      error: Type.Optional(Type.String({ description: 'why HAProxy could not be asked' })),
      backends: Type.Array(
        Type.Object({
          name: Type.String({ description: 'be_<service>' }),
          servers: Type.Array(
            Type.Object({
              name: Type.String({ description: 's<slot>' }),
              address: Type.String({ description: 'ip:port' }),
              state: StringEnum(
                ['up', 'down', 'drain', 'maint'] as const,
                'must be up, down, drain or maint',
              ),
              status: Type.String({
                description:
                  "HAProxy's own word: UP, DOWN, DRAIN, MAINT, no check (UP without health checks)…",
              }),
              sessions: Type.Integer({ description: 'current sessions (scur)' }),
              containerId: Type.Optional(Type.String({ description: 'the container behind the address' })),
            }),
          ),
        }),
      ),
    }),
    logShipping: Type.Object({
      enabled: Type.Boolean(),
      backlogRecords: Type.Optional(Type.Number({ description: 'read but not yet acknowledged' })),
      spoolBytes: Type.Optional(Type.Number()),
      containers: Type.Optional(Type.Number({ description: 'containers whose logs are shipped' })),
    }),
  },
  { description: 'catalog, HAProxy backends and log shipping, for the dashboard' },
);
export type DashboardStatus = Static<typeof DashboardStatus>;
