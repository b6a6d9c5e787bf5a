// @ts-check
// The `config` hook. The brain builds its model registry from OpenCode's config, so every (re)started brain is sent
// the latest copy. OpenCode only takes the patch while it settles its config at start-up, so an answer the brain
// marked cacheable is kept on disk and replayed at once at the next start with the same inputs.
import { answerKey, readAnswer, writeAnswer } from "./answer_cache.js";
import { applyPatch } from "./hooks.js";
import { BrainState } from "./brain_process.js";

/**
 * @param {{
 *   brain: import("./brain_process.js").BrainProcess,
 *   budgetMs: number,
 *   keyParts: unknown[],
 *   notifier: import("./notify.js").Notifier,
 *   handles: (hook: string) => boolean,
 * }} deps  `keyParts`: what besides the config the answer depends on (versions, the brain's options)
 */
export function createConfigHook({ brain, budgetMs, keyParts, notifier, handles }) {
  /** @type {unknown} */
  let lastConfig = null;
  let key = "";
  let inFlight = false;

  const send = () => {
    inFlight = true;
    return brain
      .request("config", { input: null, output: lastConfig }, budgetMs)
      .then((result) => {
        if (result && result.cacheable && result.output) writeAnswer(key, result.output);
        return result;
      })
      .finally(() => (inFlight = false));
  };

  brain.on("ready", () => {
    if (lastConfig !== null && !inFlight) send().catch(() => {});
  });

  /** @param {any} cfg  OpenCode's live config object, patched in place */
  return async function config(cfg) {
    try {
      if (!handles("config")) return;
      lastConfig = JSON.parse(JSON.stringify(cfg));
      key = answerKey(...keyParts, lastConfig);
      const cached = brain.state === BrainState.READY ? null : readAnswer(key);
      const asked = send();
      if (cached) {
        asked.catch(() => {}); // the brain still learns the config; start-up does not wait for it
        applyPatch(cfg, cached);
        return;
      }
      const result = await asked;
      if (result && result.output) applyPatch(cfg, result.output);
      if (result) notifier.runActions(result.actions);
    } catch (err) {
      notifier.warnHook("config", err);
    }
  };
}
