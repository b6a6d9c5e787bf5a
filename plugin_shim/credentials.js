// @ts-check
// Whether a Kimchi API key is at hand, looked up where the brain looks (kimchi_plugin/provider/credentials.py, first
// found wins), plus OpenCode's own stored login. Used before the brain runs: to give the provider the shipped answer
// creates a key, to key the config-answer cache on key presence, and to tell the user how to set one.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const KEY_ENV = ["KIMCHI_API_KEY", "CASTAI_API_KEY"];

/** @param {NodeJS.ProcessEnv} env */
function kimchiCliConfig(env) {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "kimchi", "config.json");
}

/** @param {unknown} value  @returns {value is string} */
const usable = (value) => typeof value === "string" && value.trim() !== "";

/**
 * The key and where it comes from (a label safe to show), or null.
 * @param {Record<string, unknown>} options  plugin options  @param {any} config  OpenCode's config  @param {string} providerId
 * @returns {{key: string, source: string} | null}
 */
export function findApiKey(options, config, providerId, env = process.env) {
  const providerKey = config?.provider?.[providerId]?.options?.apiKey;
  /** @type {[unknown, string][]} */
  const candidates = [
    [options.apiKey, "plugin option apiKey"],
    [providerKey, `provider.${providerId}.options.apiKey`],
    ...KEY_ENV.map((name) => /** @type {[unknown, string]} */ ([env[name], name])),
  ];
  for (const [value, source] of candidates) if (usable(value)) return { key: value.trim(), source };
  try {
    const saved = JSON.parse(readFileSync(kimchiCliConfig(env), "utf8"))?.api_key;
    if (usable(saved)) return { key: saved.trim(), source: "the Kimchi CLI config" };
  } catch {}
  return null;
}

/** Whether OpenCode holds a login for the provider (`opencode auth login`): its own requests then carry a key. @param {string} providerId */
export function openCodeLogin(providerId, env = process.env) {
  try {
    const auth = JSON.parse(readFileSync(join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "opencode", "auth.json"), "utf8"));
    return Boolean(auth?.[providerId]);
  } catch {
    return false;
  }
}

/** The one message for a user without a key. @param {string} providerId */
export function noKeyMessage(providerId) {
  return (
    "opencode-kimchi: no Kimchi API key found. Set one of: the environment variable KIMCHI_API_KEY (or CASTAI_API_KEY), " +
    `the plugin option "apiKey", provider.${providerId}.options.apiKey in opencode.json, ` +
    `or api_key in ~/.config/kimchi/config.json; \`opencode auth login\` (provider ${providerId}) covers OpenCode's own requests.`
  );
}
