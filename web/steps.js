// The page's steps around training, in their own files: a CSV's columns mapped to roles
// (csv_columns.js), the dataset's inspect report and Clean (data_step.js), several prompts
// rated blind (compare_step.js) and the test-set metrics (metrics_step.js). app.js hands each worker message here first, and tells the steps when the
// dataset or the run's state changes; the worker side is pipeline_worker.js.

import { CompareStep } from "./compare_step.js";
import { CsvColumns } from "./csv_columns.js";
import { DataStep } from "./data_step.js";
import { MetricsStep } from "./metrics_step.js";

/**
 * `app`: { post(msg), options() (the run's options), dataset() ({name, bytes} or null),
 * useDataset(name, bytes, how) (makes bytes the dataset and plans the run), status }.
 */
export function initSteps(app) {
  const steps = [new CsvColumns(app), new DataStep(app), new CompareStep(app), new MetricsStep(app)];
  return {
    /** Whether a step took `msg` (its result, or an error of one of its requests). */
    onMessage: (msg) => steps.some((s) => s.onMessage(msg)),
    datasetChanged: (dataset, how) => steps.forEach((s) => s.datasetChanged?.(dataset, how)),
    stateChanged: (state) => steps.forEach((s) => s.stateChanged?.(state)),
  };
}
