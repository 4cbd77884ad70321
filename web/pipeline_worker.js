// The worker's side of the steps around training (web/steps.js on the page, web/workshop.js):
// each message calls one Engine method (web/src/pipeline.rs, the same core functions as `anytune
// data inspect|clean|convert`, `anytune compare`, `anytune eval`, the per-token losses of the
// workshop, `anytune bench --train` as benchTrain) and posts its result under the same type.
// worker.js hands it every message type it does not know; errors reach the page as `{type: "error", context: <the message type>}` through
// worker.js's own catch.

import { rateCss, rateJs } from "./pkg/anytune_web.js";

/** The message types answered here. */
export const TYPES = ["inspect", "clean", "convert", "compare", "evalMetrics", "rateAssets", "tokenLosses", "benchTrain"];

/** Answers `msg` with `engine`, posting through `post`. */
export async function handlePipeline(engine, msg, post) {
  switch (msg.type) {
    case "inspect":
      return post({ type: "inspect", report: JSON.parse(engine.inspect(msg.name, msg.bytes, JSON.stringify(msg.options))) });
    case "clean": {
      const out = JSON.parse(engine.clean(msg.name, msg.bytes, JSON.stringify(msg.options || {})));
      return post({ type: "clean", name: msg.name, ...out });
    }
    case "convert": {
      const out = JSON.parse(engine.convert(msg.name, msg.bytes, JSON.stringify(msg.options || {})));
      return post({ type: "convert", name: msg.name, ...out });
    }
    case "compare": {
      const onProgress = (system, prompt, prompts) => post({ type: "compareProgress", system, prompt, prompts });
      const data = JSON.parse(await engine.compare(msg.name, msg.bytes, msg.raw, msg.maxTokens, msg.seed, onProgress));
      return post({ type: "compare", data });
    }
    case "evalMetrics": {
      const options = JSON.stringify(msg.options);
      const base = JSON.parse(await engine.evalMetrics(msg.name, msg.bytes, options, false));
      post({ type: "evalProgress", done: "base" });
      const adapter = JSON.parse(await engine.evalMetrics(msg.name, msg.bytes, options, true));
      return post({ type: "evalMetrics", name: msg.name, base, adapter });
    }
    case "tokenLosses":
      return post({ type: "tokenLosses", rows: JSON.parse(await engine.tokenLosses(msg.name, msg.bytes, JSON.stringify(msg.options))) });
    case "benchTrain":
      return post({ type: "benchTrain", timing: JSON.parse(await engine.benchTrain(JSON.stringify(msg.options || {}))) });
    case "rateAssets":
      return post({ type: "rateAssets", js: rateJs(), css: rateCss() });
    default:
      throw new Error(`unknown message ${msg.type}`);
  }
}
