import { describe, expect, it } from 'vitest';
import { renderEdgeMetricsUnit, renderEdgeProbeUnit, renderEdgeRoutesUnit } from '../../../src/render/units.js';
import { PATHS } from '../../../src/tasks/paths.js';

/** Every unit edge renders writes its paths through the systemd encoders (src/encode/systemd.ts). */

const RENDERERS = { renderEdgeRoutesUnit, renderEdgeProbeUnit, renderEdgeMetricsUnit };
// A second directive, a specifier, shell syntax, an Exec prefix: each would change what systemd runs.
const HOSTILE = ['/etc/edge/x\nExecStartPre=/bin/sh -c id', '/etc/edge/%n', '/usr/sbin/x; rm -rf /', '-/bin/x', '/etc/edge/x\\'];

describe('edge units', () => {
  it.each(Object.entries(RENDERERS))('%s refuses a script or conf path systemd would read as more than a path', (_, render) => {
    for (const bad of HOSTILE) {
      expect(() => render({ script: bad, conf: '/etc/edge/ok.conf' }), bad).toThrow(/refusing/);
      if (bad.endsWith('\\') || bad.includes('\n')) expect(() => render({ script: '/usr/sbin/ok', conf: bad }), bad).toThrow(/refusing/);
    }
  });

  it('edge-metrics.service with the installed paths is what it was before it went through the encoders', () => {
    expect(renderEdgeMetricsUnit({ script: PATHS.edgeMetrics, conf: PATHS.metricsConf })).toBe(`# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
Description=edge: failover state as Prometheus metrics for node_exporter's textfile collector
After=edge-probe.service
ConditionPathExists=/etc/edge/metrics.conf
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=/usr/local/sbin/edge-metrics run
Restart=always
RestartSec=5
SyslogIdentifier=edge-metrics
Nice=10

[Install]
WantedBy=multi-user.target
`);
  });
});
