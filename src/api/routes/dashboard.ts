import type { FastifyInstance } from 'fastify';
import { NotImplementedError } from '../../../runtime/base/errors.js';
import { DashboardStatus } from '../dashboard-status.js';
import { documented, NoQuery, responses } from '../schemas.js';
import type { ApiDeps } from '../types.js';

/**
 * `GET /v1/dashboard/status` (read-only, every listener): the catalog,
 * HAProxy's backends and the log shipping backlog, for the dashboard's
 * services and agent views (src/api/dashboard-status.ts).
 */
export function registerDashboardRoutes(app: FastifyInstance, { dashboardStatus }: ApiDeps): void {
  app.get(
    '/v1/dashboard/status',
    {
      schema: documented({
        summary: 'catalog instances, HAProxy servers (status, sessions) and log shipping backlog',
        querystring: NoQuery,
        response: responses({ 200: DashboardStatus }),
      }),
    },
    async () => {
      if (!dashboardStatus) throw new NotImplementedError('dashboard status: this agent does not report it');
      return dashboardStatus();
    },
  );
}
