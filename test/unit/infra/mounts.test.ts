import { describe, expect, it } from "vitest";
import { mountOf, parseMountInfo, VOLATILE_FS_TYPES } from "../../../src/infra/mounts.js";

const TABLE = [
  "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
  "30 27 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=100k",
  "31 27 0:28 / /var/lib/gait rw,relatime shared:5 master:1 - xfs /dev/vdb rw",
  "32 27 0:29 / /run/my\\040dir rw - tmpfs none rw",
  "33 31 0:30 / /var/lib/gait/cache rw - ramfs ramfs rw",
  "34 31 0:31 / /var/lib/gait rw - tmpfs over rw",
  "garbage line",
  "",
].join("\n");

describe("mount table", () => {
  it("parses mountinfo: optional fields, escaped spaces, bad lines skipped", () => {
    const m = parseMountInfo(TABLE);
    expect(m).toHaveLength(6);
    expect(m[2]).toEqual({ mountPoint: "/var/lib/gait", fsType: "xfs", source: "/dev/vdb" });
    expect(m[3]!.mountPoint).toBe("/run/my dir");
  });

  it("finds the mount that holds a path: longest mount point, the one on top of a stack, whole components only", () => {
    const m = parseMountInfo(TABLE);
    expect(mountOf("/home/x", m)?.fsType).toBe("ext4");
    expect(mountOf("/dev/shm/a/b", m)?.fsType).toBe("tmpfs");
    expect(mountOf("/dev/shmx", m)?.fsType).toBe("ext4"); // not under /dev/shm
    expect(mountOf("/var/lib/gait/cache/x", m)?.fsType).toBe("ramfs");
    expect(mountOf("/var/lib/gait/traces", m)?.fsType).toBe("tmpfs"); // mounted over the xfs one
    expect(mountOf("/run/my dir/s", m)?.fsType).toBe("tmpfs");
    expect(mountOf("/x", [])).toBeUndefined();
  });

  it("calls tmpfs and ramfs volatile, disks not", () => {
    expect(["tmpfs", "ramfs"].every((t) => VOLATILE_FS_TYPES.has(t))).toBe(true);
    expect(["ext4", "xfs", "overlay", "nfs4"].some((t) => VOLATILE_FS_TYPES.has(t))).toBe(false);
  });
});
