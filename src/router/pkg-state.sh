# shellcheck shell=bash disable=SC2034 # rc is restore.sh's exit status, set here on a failure
# Managed by edge: the packages part of a run's snapshot. Not a file on the router: edge puts it
# into the apply exec of a run that installs packages and into the restore.sh of that run and of
# the baseline (src/engine/pkg-snapshot.ts), after HOST_LIB; D is the snapshot dir.
#
# What dpkg did not have before apt ran and has after is edge's to remove on rollback, as dpkg
# itself says on the router, never guessed from the plan: packages apt pulled in count; a package
# that was there before (even as config files only) is never purged. What the install changed under
# /etc (a system user in /etc/passwd, rc links, ld.so.cache, the packages' conffiles) is put back
# as it was, byte for byte.
#
# A run's record, in P=$D/pkgs (the baseline's in EDGE_PKG_BASELINE: the same but before/ and done):
#   before/status  "NAME STATUS" of every package dpkg knows (not "not-installed"), right before apt
#   before/etc/    a copy of /etc taken then (dropped once the changes are known)
#   added          "NAME WAS" per package apt added; WAS: absent or config-files
#   etc.changed    "SIG<TAB>PATH" per path under /etc apt changed, relative to /etc; SIG is what it
#                  was before: "-" (absent) or "TYPE MODE UID:GID" (find's %y %m %U:%G)
#   etc/           the before copies of the changed files and symlinks
#   done           the record is complete (written last)
# The baseline keeps each package once and each path's first state: a path with a baseline file
# item (a file edge itself wrote before) is left to that item.

: "${EDGE_ETC:=/etc}"

# edge_pkg_status: "NAME STATUS" per package dpkg knows, sorted.
edge_pkg_status() {
  dpkg-query -W -f '${binary:Package} ${db:Status-Status}\n' | awk '$2 != "not-installed"' | sort
}

# edge_tree_sig DIR: "PATH<TAB>TYPE MODE UID:GID TARGET MD5" per entry below DIR, sorted by path.
edge_tree_sig() {
  local t; t=$(mktemp -d)
  (cd "$1" && find . -xdev -mindepth 1 -printf '%P\t%y %m %U:%G %l\n' | sort > "$t/meta" &&
    find . -xdev -type f -printf '%P\0' | xargs -0 -r md5sum -- > "$t/sums") || { rm -rf -- "$t"; return 1; }
  awk -F'\t' 'NR == FNR { h[substr($0, 35)] = substr($0, 1, 32); next } { print $1 "\t" $2 " " h[$1] }' "$t/sums" "$t/meta"
  rm -rf -- "$t"
}

# edge_pkgs_before: dpkg's state and a copy of /etc, right before apt (once per run).
edge_pkgs_before() {
  local p=$D/pkgs
  [ ! -d "$p/before" ] || return 0
  rm -rf -- "$p/before.tmp" && mkdir -p -- "$p/before.tmp"
  edge_pkg_status > "$p/before.tmp/status"
  cp -ax -- "$EDGE_ETC" "$p/before.tmp/etc"
  sync -f "$p/before.tmp" 2>/dev/null || sync
  mv -- "$p/before.tmp" "$p/before"
}

# edge_pkgs_after: what apt added and changed, found now (after apt, or by a restore when apt was
# cut), recorded in the run's record and the baseline's.
edge_pkgs_after() {
  local p=$D/pkgs sig path
  [ -d "$p/before" ] && [ ! -f "$p/done" ] || return 0
  edge_pkg_status | awk 'FILENAME == ARGV[1] { b[$1] = $2; next }
    ($1 in b) && b[$1] != "config-files" { next }
    $2 != "config-files" { print $1, ($1 in b ? b[$1] : "absent") }' "$p/before/status" - > "$p/added.tmp" || return 1
  join -t "$(printf '\t')" -a 1 -a 2 -e - -o 0,1.2,2.2 <(edge_tree_sig "$p/before/etc") <(edge_tree_sig "$EDGE_ETC") |
    awk -F'\t' '$2 != $3 { split($2, w, " "); print ($2 == "-" ? "-" : w[1] " " w[2] " " w[3]) "\t" $1 }' > "$p/etc.changed.tmp" || return 1
  rm -rf -- "${p:?}/etc" && mkdir -p -- "$p/etc"
  while IFS=$'\t' read -r sig path; do
    case $sig in f*|l*) (cd "$p/before/etc" && cp -a --parents -- "./$path" "$p/etc/") || return 1 ;; esac
  done < "$p/etc.changed.tmp"
  mv -f -- "$p/added.tmp" "$p/added" && mv -f -- "$p/etc.changed.tmp" "$p/etc.changed"
  edge_pkgs_baseline "$p" || return 1
  sync -f "$p" 2>/dev/null || sync
  edge_put "$p/done" "$(wc -l < "$p/added") packages, $(wc -l < "$p/etc.changed") paths under $EDGE_ETC"
  rm -rf -- "$p/before/etc"
}

# edge_pkgs_baseline P: P's record added to the baseline's (a copy first, then its line); what P
# adds is also noted in P (baseline.*), so undoing P takes it out of the baseline again.
edge_pkgs_baseline() {
  local b=$EDGE_PKG_BASELINE name was sig path key
  mkdir -p -- "$b/etc" && touch "$b/added" "$b/etc.changed" "$1/baseline.added" "$1/baseline.etc.changed"
  while read -r name was; do
    cut -d' ' -f1 "$b/added" | grep -qxF -- "$name" && continue
    printf '%s %s\n' "$name" "$was" | tee -a "$1/baseline.added" >> "$b/added"
  done < "$1/added"
  while IFS=$'\t' read -r sig path; do
    cut -f2- "$b/etc.changed" | grep -qxF -- "$path" && continue
    key=$(printf 'file:%s/%s' "$EDGE_ETC" "$path" | od -An -v -tx1 | tr -d ' \n')
    [ ! -e "$EDGE_BASELINE_ITEMS/$key" ] || continue
    case $sig in f*|l*) (cd "$1/etc" && cp -a --parents -- "./$path" "$b/etc/") || return 1 ;; esac
    printf '%s\t%s\n' "$sig" "$path" | tee -a "$1/baseline.etc.changed" >> "$b/etc.changed"
  done < "$1/etc.changed"
}

# edge_pkgs_forget P: once P is undone, what it added to the baseline goes (the baseline of a
# package an operator installs after this rollback is not edge's); the baseline's own, all of it.
edge_pkgs_forget() {
  local b=$EDGE_PKG_BASELINE sig path f
  if [ "$1" -ef "$b" ]; then rm -rf -- "${b:?}"; return 0; fi
  [ -f "$1/baseline.added" ] || return 0
  for f in added etc.changed; do
    [ -f "$b/$f" ] || continue
    { grep -vxF -f "$1/baseline.$f" -- "$b/$f" || true; } > "$b/$f.tmp" && mv -f -- "$b/$f.tmp" "$b/$f"
  done
  while IFS=$'\t' read -r sig path; do
    case $sig in f*|l*) rm -f -- "$b/etc/$path" ;; esac
  done < "$1/baseline.etc.changed"
  rm -f -- "$1/baseline.added" "$1/baseline.etc.changed"
}

# edge_dpkg ACTION PKG...: dpkg --purge/--remove; waits up to EDGE_DPKG_WAIT s (120) while another
# apt or dpkg holds its lock; any other failure (a package installed since depends on one, a
# maintainer script failed) fails the restore with dpkg's own words.
edge_dpkg() {
  local out waited=0
  until out=$(DEBIAN_FRONTEND=noninteractive dpkg "$@" 2>&1); do
    case $out in
      *lock*) if [ "$waited" -lt "${EDGE_DPKG_WAIT:-120}" ]; then sleep 2; waited=$((waited + 2)); continue; fi ;;
    esac
    echo "edge restore: failed: dpkg $*: $(printf '%s\n' "$out" | grep -v '^(Reading database' | tail -n 4 | tr '\n' ' ')" >&2
    rc=1
    return 1
  done
}

# edge_pkgs_restore P: purges what the record says apt added (and dpkg still has), removes again
# what had only its config files, then puts back what the install changed under /etc, and the
# baseline forgets what P gave it. A failed dpkg leaves /etc alone (its packages still need it) and
# fails the restore, which can be run again.
edge_pkgs_restore() {
  local p=$1 name was st
  local -a purge=() remove=()
  [ ! -d "$p/before" ] || edge_pkgs_after || { echo "edge restore: failed: could not tell what apt installed ($p)" >&2; rc=1; return 0; }
  [ -f "$p/added" ] || return 0
  while read -r name was; do
    st=$(edge_pkg_status | awk -v n="$name" '$1 == n { print $2 }')
    [ -n "$st" ] || continue
    if [ "$was" = absent ]; then purge+=("$name"); elif [ "$st" != config-files ]; then remove+=("$name"); fi
  done < "$p/added"
  if [ ${#purge[@]} -gt 0 ]; then edge_dpkg --purge "${purge[@]}" || return 0; fi
  if [ ${#remove[@]} -gt 0 ]; then edge_dpkg --remove "${remove[@]}" || return 0; fi
  local rc0=$rc
  edge_etc_restore "$p"
  [ "$rc" != "$rc0" ] || edge_pkgs_forget "$p"
  local -a gone=("${purge[@]}" "${remove[@]}")
  [ ${#gone[@]} -gt 0 ] || return 0
  echo "EDGE-PKGS-REMOVED ${gone[*]}"
  printf '%s - removed the packages edge had installed: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${gone[*]}" >> "$D/restore.log"
}

# edge_etc_restore P: every path P's record lists back to its state before apt: what was absent
# removed (deepest first), then directories, files and symlinks put back (parents first).
edge_etc_restore() {
  local p=$1 sig path
  [ -f "$p/etc.changed" ] || return 0
  while IFS=$'\t' read -r sig path; do
    [ "$sig" = - ] || continue
    rm -rf -- "${EDGE_ETC:?}/$path" || { echo "edge restore: failed: rm $EDGE_ETC/$path" >&2; rc=1; }
  done < <(sort -t "$(printf '\t')" -k2,2 -r "$p/etc.changed")
  while IFS=$'\t' read -r sig path; do
    [ "$sig" = - ] || edge_etc_put "$p" "$sig" "$path" || { echo "edge restore: failed: $EDGE_ETC/$path" >&2; rc=1; }
  done < <(sort -t "$(printf '\t')" -k2,2 "$p/etc.changed")
}

# edge_etc_put P SIG PATH: one path back: a directory by its mode and owner (its entries are paths
# of their own), a file or symlink from its copy, by rename.
edge_etc_put() {
  local dst=$EDGE_ETC/$3 t
  local -a w
  read -r -a w <<< "$2"
  if [ "${w[0]}" = d ]; then
    if [ -L "$dst" ] || { [ -e "$dst" ] && [ ! -d "$dst" ]; }; then rm -f -- "$dst"; fi
    mkdir -p -- "$dst" && chown "${w[2]}" "$dst" && chmod "${w[1]}" "$dst"
    return
  fi
  if [ -d "$dst" ] && [ ! -L "$dst" ]; then rm -rf -- "$dst"; fi
  t="$(dirname -- "$dst")/.edge-restore.$$"
  # (a purge may have taken a directory the file lived in before)
  [ -d "${t%/*}" ] || (umask 022 && mkdir -p -- "${t%/*}")
  if cp -a -- "$1/etc/$3" "$t" && mv -Tf -- "$t" "$dst"; then return 0; fi
  rm -f -- "$t"
  return 1
}
