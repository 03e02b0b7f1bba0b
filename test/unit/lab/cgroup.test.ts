import { describe, expect, it } from 'vitest';
import { trackingHierarchies } from '../../../src/lab/cgroup.js';

describe('the hierarchies a router container is placed in', () => {
  it('a hybrid host: the cgroup2 mount and the named systemd one, not the controllers', () => {
    const mountinfo = [
      '25 20 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755',
      '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
      '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd',
      '28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory',
      '29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu,cpuacct',
    ].join('\n');
    expect(trackingHierarchies(mountinfo)).toEqual(['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd']);
  });

  it('a unified host: the one cgroup2 mount; an escaped mount point is read back', () => {
    const mountinfo = [
      '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
      '36 24 0:31 / /mnt/my\\040cgroups rw,relatime - cgroup2 none rw',
      '37 24 0:32 / /proc rw - proc proc rw',
    ].join('\n');
    expect(trackingHierarchies(mountinfo)).toEqual(['/sys/fs/cgroup', '/mnt/my cgroups']);
  });
});
