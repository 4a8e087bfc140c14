import { describe, expect, it } from "vitest";
import { fastConfig, makePackage, makeSupervisor, nextEvent, rawImage, stopAfterEach, waitFor } from "./helpers.js";

const track = stopAfterEach();

describe("Supervisor seam for switch and drain", () => {
  it("switch v1 → v2 under load: no failed call, old sessions finish on v1, new ones land on v2, v1 stops when unused", async () => {
    const v1 = makePackage({}, "1.0");
    const v2 = makePackage({}, "2.0");
    const h = makeSupervisor(fastConfig({ instances: 2 }), { p001: v1.spec });
    track(h);
    await h.sup.ensureRunning(v1.spec);
    const image = rawImage();
    const old = h.sup.createSession("p001");
    await h.sup.inspect({ pid: "p001", step_index: 1, session_id: old.id, method: "pre_execute", user_params: { token: "v1-flow" }, image });

    // A client inspecting continuously (bounded loop) while the switch happens.
    let switched = false;
    let afterSwitch = 0;
    const versions: string[] = [];
    const client = (async () => {
      while (afterSwitch < 20) {
        if (switched) afterSwitch++;
        const res = await h.sup.inspect({ pid: "p001", step_index: 1, image });
        expect(res.pre_execute?.status).toBe("OK");
        expect(res.execute?.status).toBe("OK");
        versions.push(res.version);
      }
    })();

    // Runner.switch: start and handshake the new version first, then rebind, then retire the old one.
    await h.sup.ensureRunning(v2.spec);
    h.bind("p001", v2.spec);
    const retired = h.sup.stopWhenUnused(v1.spec);
    switched = true;
    await client;
    expect(versions).toContain("2.0");
    expect(versions.at(-1)).toBe("2.0");

    // v1 still serves the session that started on it.
    expect(h.sup.isRunning(v1.spec)).toBe(true);
    expect(h.sup.inUse(v1.spec)).toBe(true);
    const fresh = h.sup.createSession("p001");
    expect(fresh.version).toBe("2.0");
    const finish = await h.sup.inspect({ pid: "p001", step_index: 1, session_id: old.id, method: "execute", image });
    expect(finish).toMatchObject({ version: "1.0", execute: { status: "OK", data: { token: "v1-flow" } } });

    const stopped = nextEvent(h.sup, "pool-state", (e) => e.key === "sup-algo@1.0" && e.to === "stopped");
    h.sup.endSession(old.id);
    await retired;
    await stopped;
    expect(h.sup.isRunning(v1.spec)).toBe(false);
    expect(h.sup.status().map((p) => p.key)).toEqual(["sup-algo@2.0"]);
    expect(h.records.filter((r) => r.status !== "OK")).toEqual([]);
  });

  it("drainAndStop lets the running call finish and refuses new ones with 3006", async () => {
    const pkg = makePackage();
    const h = makeSupervisor(fastConfig(), { p001: pkg.spec });
    track(h);
    await h.sup.ensureRunning(pkg.spec);
    const image = rawImage();
    const slow = h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", user_params: { sleep_s: 0.5 }, image });
    await new Promise((r) => setImmediate(r));
    expect(h.sup.inUse(pkg.spec)).toBe(true);
    const drained = h.sup.drainAndStop(pkg.spec);
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image })).rejects.toMatchObject({ code: "3006" });
    expect((await slow).execute?.status).toBe("OK");
    await drained;
    expect(h.sup.isRunning(pkg.spec)).toBe(false);
    // and it can run again
    await h.sup.ensureRunning(pkg.spec);
    expect((await h.sup.inspect({ pid: "p001", step_index: 1, image })).execute?.status).toBe("OK");
  });

  it("retire (uninstall, replacement) ends the sessions pinned to the version: they could never run again", async () => {
    const pkg = makePackage();
    const h = makeSupervisor(fastConfig(), { p001: pkg.spec });
    track(h);
    await h.sup.ensureRunning(pkg.spec);
    const session = h.sup.createSession("p001", { serial: "SN-1" });
    await h.sup.retire(pkg.spec);
    expect(() => h.sup.sessions.get(session.id)).toThrow(expect.objectContaining({ code: "3006" }));
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, session_id: session.id, image: rawImage() })).rejects.toMatchObject({ code: "3006" });
  });

  it("drainAndStop lets a `both` inspection in progress run its execute, though its pre_execute was its only call in flight", async () => {
    const pkg = makePackage();
    const h = makeSupervisor(fastConfig(), { p001: pkg.spec });
    track(h);
    await h.sup.ensureRunning(pkg.spec);
    const both = h.sup.inspect({ pid: "p001", step_index: 1, method: "both", user_params: { sleep_s: 0.3 }, image: rawImage() });
    await waitFor(() => h.sup.status()[0]?.workers[0]?.state === "busy", 10_000, "pre_execute to run");
    const drained = h.sup.drainAndStop(pkg.spec);
    const answer = await both;
    expect(answer.pre_execute?.status).toBe("OK");
    expect(answer.execute).toMatchObject({ status: "OK" });
    await drained;
    expect(h.sup.isRunning(pkg.spec)).toBe(false);
  });
});
