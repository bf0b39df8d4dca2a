import { test } from "node:test";
import assert from "node:assert/strict";
import { latestAnswer } from "../../web/api/latest_answer.js";

/** A load whose answers the test releases one by one, in any order. */
function controlledLoads() {
  const pending = [];
  const load = () => new Promise((resolve, reject) => pending.push({ resolve, reject }));
  return { load, pending };
}

test("an older answer arriving after a newer one is not shown", async () => {
  const { load, pending } = controlledLoads();
  const shown = [];
  const refresh = latestAnswer(load, (answer) => shown.push(answer));
  const first = refresh();
  const second = refresh();
  pending[1].resolve("after the job was recorded");
  assert.equal(await second, true);
  pending[0].resolve("before the job was recorded");
  assert.equal(await first, false);
  assert.deepEqual(shown, ["after the job was recorded"]);
});

test("answers arriving in order are all shown", async () => {
  const { load, pending } = controlledLoads();
  const shown = [];
  const refresh = latestAnswer(load, (answer) => shown.push(answer));
  const calls = [refresh(), refresh(), refresh()];
  pending.forEach((p, i) => p.resolve(i));
  assert.deepEqual(await Promise.all(calls), [true, true, true]);
  assert.deepEqual(shown, [0, 1, 2]);
});

test("a failed load reaches the caller and does not block later answers", async () => {
  const { load, pending } = controlledLoads();
  const shown = [];
  const refresh = latestAnswer(load, (answer) => shown.push(answer));
  const failed = refresh();
  pending[0].reject(new Error("server gone"));
  await assert.rejects(failed, /server gone/);
  const next = refresh();
  pending[1].resolve("back");
  assert.equal(await next, true);
  assert.deepEqual(shown, ["back"]);
});
