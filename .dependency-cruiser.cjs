/**
 * The import rules that keep berth's layers readable from the folder tree
 * (issue 13; run by `npm run lint`). Layers, top to bottom:
 *
 *   src/agent, src/api, src/cli   the user surface and the composition root
 *   sidecar/<name>/               one folder per sidecar; they share only the
 *                                 Sidecar contract and the plain metric family
 *                                 type (sidecar/types.ts) and the discovery
 *                                 Catalog's types
 *   runtime/<area>/               the runtime core; containers/ sits on the
 *                                 other areas, which never import it
 *   runtime/base/                 the shared base: errors, events, logging,
 *                                 config tables, small helpers; imports
 *                                 nothing of berth's
 *
 * An import may only point down (or sideways where a rule below allows it),
 * and nothing may form a cycle.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: split the shared part into a types.ts both import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'base-is-the-bottom',
      severity: 'error',
      comment: 'runtime/base imports nothing of berth (only node: and npm packages).',
      from: { path: '^runtime/base/' },
      to: { path: '^(src|sidecar|runtime/(?!base/))' },
    },
    {
      name: 'runtime-below-sidecars-and-surface',
      severity: 'error',
      comment:
        'runtime/ never imports sidecar/ or src/: sidecars consume a ContainerSource, the agent wires them.',
      from: { path: '^runtime/' },
      to: { path: '^(sidecar|src)/' },
    },
    {
      name: 'sidecars-below-surface',
      severity: 'error',
      comment:
        'sidecar/ never imports src/: the composition root (src/agent) wires sidecars, not the reverse.',
      from: { path: '^sidecar/' },
      to: { path: '^src/' },
    },
    {
      name: 'sidecars-independent',
      severity: 'error',
      comment:
        'A sidecar does not reach into another; what they share is the Catalog (sidecar/discovery/types.ts and instance.ts).',
      from: { path: '^sidecar/([^/]+)/' },
      to: {
        path: '^sidecar/',
        pathNot: ['^sidecar/$1/', '^sidecar/discovery/(types|instance)\\.ts$', '^sidecar/types\\.ts$'],
      },
    },
    {
      name: 'runtime-areas-below-containers',
      severity: 'error',
      comment:
        'runtime/containers sits on the other runtime areas (image, snapshot, exec, network, oci, volumes, cgroups); they never import it: each area owns its interface in its own types.ts.',
      from: { path: '^runtime/(?!containers/)[^/]+/' },
      to: { path: '^runtime/containers/' },
    },
    {
      name: 'cli-talks-to-the-api-only',
      severity: 'error',
      comment:
        'The CLI is a client of the HTTP API: it may import the wire types (type-only), never runtime or sidecar code.',
      from: { path: '^src/cli/' },
      to: { path: '^(runtime|sidecar)/', pathNot: '^runtime/base/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-test-code-in-product',
      severity: 'error',
      from: { path: '^(src|runtime|sidecar)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
