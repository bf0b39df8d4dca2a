import { test } from "node:test";
import assert from "node:assert/strict";
import { ExtensionManager } from "../../web/extensions/manager.js";

const quiet = () => { const errors = []; return { errors, error: (...a) => errors.push(a.join(" ")) }; };

test("hooks run in registration order; failures are logged and skipped", async () => {
  const log = quiet();
  const m = new ExtensionManager(log);
  const calls = [];
  m.register({ name: "a", setup: async (x) => { calls.push(["a", x]); return 1; } });
  m.register({ name: "b", setup: () => { throw new Error("bad"); } });
  m.register({ name: "c", setup: (x) => { calls.push(["c", x]); } });
  assert.deepEqual(await m.invoke("setup", 7), [1]);
  assert.deepEqual(calls, [["a", 7], ["c", 7]]);
  assert.match(log.errors[0], /extension 'b' failed in setup/);
});

test("names are required and unique", () => {
  const m = new ExtensionManager(quiet());
  assert.throws(() => m.register({}), /non-empty string 'name'/);
  m.register({ name: "x" });
  assert.throws(() => m.register({ name: "x" }), /already registered/);
});

test("plugins export an extension object or a function of the app", async () => {
  const log = quiet();
  const m = new ExtensionManager(log);
  const app = { registerExtension: (e) => m.register(e) };
  const modules = {
    "/extensions/p/one.js": { default: { name: "one" } },
    "/extensions/p/two.js": { default: (a) => a.registerExtension({ name: "two" }) },
  };
  const importer = async (url) => { if (!(url in modules)) throw new Error("404"); return modules[url]; };
  await m.loadPlugins(["/extensions/p/one.js", "/extensions/p/missing.js", "/extensions/p/two.js"], app, importer);
  assert.deepEqual(m.extensions.map((e) => e.name), ["one", "two"]);
  assert.match(log.errors[0], /could not load extension module \/extensions\/p\/missing.js/);
});
