import { writeFileCommand } from '../render/shell.js';
import { RUN_ID_CASE } from './run-id.js';
import { BASELINE_DIR, BASELINE_ID, BOOT_GENERATOR, PENDING_FILE, SNAPSHOT_ROOT } from './host-layout.js';

/**
 * Commit-confirmed across a reboot. A reboot before the confirm means rollback (as with JunOS
 * `commit confirmed`): the pending run is on disk (PENDING_FILE), and at boot this hook restores it
 * before the network, nftables, keepalived and edge's own units start.
 *
 * Why a systemd generator rather than an enabled unit: it is ONE file, written atomically, so there
 * is no moment where the hook is half installed (a unit file without its .wants link would do
 * nothing at boot). systemd runs generators first thing at every boot; this one emits the restore
 * unit into the early generator dir, wanted by sysinit.target, and is a no-op for systemd when
 * nothing is pending (the unit's condition). Called with `restore`, it is the unit's program.
 *
 * Who removes it: it is recorded, like every file, in the snapshot of the run that installed it (the
 * first run on the host) and in the baseline, and restoring either removes it as the very last step.
 * A confirmed host keeps it: it costs one condition check per boot.
 */
export const BOOT_UNIT = 'edge-boot-restore.service';
/** How long the boot-time restore may take before systemd gives up on it (and edge stops waiting for it). */
export const BOOT_RESTORE_TIMEOUT_S = 300;

export function renderBootGenerator(): string {
  return `#!/bin/sh
# Managed by edge. Restores, early at boot, a change edge had not confirmed before the host went down.
# As a systemd generator (argv: normal early late): writes ${BOOT_UNIT} into the early dir.
# As "${BOOT_GENERATOR} restore": the unit's program.
set -u
PENDING=${PENDING_FILE}
if [ "\${1:-}" != restore ]; then
  dir=\${2:-/run/systemd/generator.early}
  mkdir -p "$dir/sysinit.target.wants"
  cat > "$dir/${BOOT_UNIT}" <<'EOF'
[Unit]
Description=edge: restore a change that was not confirmed before the reboot
Documentation=file://${SNAPSHOT_ROOT}
DefaultDependencies=no
ConditionPathExists=${PENDING_FILE}
RequiresMountsFor=${SNAPSHOT_ROOT}
After=local-fs.target systemd-remount-fs.service
Before=sysinit.target systemd-sysctl.service network-pre.target nftables.service edge-nftables.service edge-routes.service keepalived.service systemd-networkd.service networking.service shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
Environment=EDGE_BOOT=1 EDGE_RESTORED_BY=boot
ExecStart=${BOOT_GENERATOR} restore
TimeoutStartSec=${BOOT_RESTORE_TIMEOUT_S}
EOF
  ln -sf "../${BOOT_UNIT}" "$dir/sysinit.target.wants/${BOOT_UNIT}"
  exit 0
fi
r=$(cat "$PENDING" 2>/dev/null) || exit 0
case "$r" in
  ${BASELINE_ID}) d=${BASELINE_DIR} ;;
  ${RUN_ID_CASE}) d=${SNAPSHOT_ROOT}/$r ;;
  *) echo "edge-boot-restore: ignoring a malformed $PENDING" >&2; exit 1 ;;
esac
state=$(cat "$d/state" 2>/dev/null || true)
if [ "$state" = confirmed ]; then rm -f "$PENDING"; echo "edge-boot-restore: run $r was confirmed; nothing to restore"; exit 0; fi
if [ ! -f "$d/restore.sh" ]; then rm -f "$PENDING"; echo "edge-boot-restore: run $r never changed anything; nothing to restore"; exit 0; fi
echo "edge-boot-restore: run $r was not confirmed before the reboot (state \${state:-none}): restoring"
exec /bin/bash "$d/restore.sh"
`;
}

/** The first exec of a run installs (or refreshes) the hook, after the pending mark is on disk. */
export function installBootHookScript(): string {
  return writeFileCommand(BOOT_GENERATOR, renderBootGenerator(), '0755');
}
