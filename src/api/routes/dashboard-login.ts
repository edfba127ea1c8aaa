import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { FailedPreconditionError } from '../../../runtime/base/errors.js';
import { bodiless, NoQuery, responses } from '../schemas.js';
import type { ApiDeps } from '../types.js';

const LoginUrl = Type.Object({
  url: Type.String({ description: 'http(s)://HOST:PORT/login?token=…, good once' }),
  expiresAt: Type.String({ description: 'RFC 3339: the URL is refused after it' }),
});

/**
 * `POST /v1/dashboard/login`: a fresh one-time dashboard login URL, for
 * `berth dashboard-url` over the unix socket (the dashboard listener itself
 * refuses it: a session must not mint logins for others).
 */
export function registerDashboardLoginRoute(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    '/v1/dashboard/login',
    bodiless({ querystring: NoQuery, response: responses({ 200: LoginUrl }) }),
    async () => {
      const mint = deps.dashboardLogin;
      if (!mint) {
        throw new FailedPreconditionError(
          'dashboard: the dashboard is off (--no-dashboard or dashboard.enabled: false)',
        );
      }
      return mint();
    },
  );
}
