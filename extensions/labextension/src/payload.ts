/** The "Try it" form: the JSON payload people type, the endpoint path it goes to, the answer shown. */

import type { Parsed } from './metrics';

export type Protocol = 'mlflow' | 'v2';

export const PROTOCOLS: { value: Protocol; label: string }[] = [
  { value: 'mlflow', label: 'MLflow (invocations)' },
  { value: 'v2', label: 'Open Inference Protocol v2 (infer)' }
];

/** What the payload box holds at first: MLflow's `dataframe_split`, to be filled in. */
export const EXAMPLE_PAYLOAD = '{"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}';

/** The payload as a JSON object; else an error saying what is wrong (where JSON.parse says so). */
export function parsePayload(text: string): Parsed<Record<string, unknown>> {
  if (!text.trim()) {
    return { value: null, error: 'Write a JSON payload first.' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { value: null, error: `The payload is not valid JSON: ${detail}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { value: null, error: 'The payload must be a JSON object, e.g. {"dataframe_split": {...}}.' };
  }
  return { value: parsed as Record<string, unknown>, error: null };
}

/** The path below a deployment's endpoint that a protocol posts to. */
export function endpointPath(protocol: Protocol, deploymentName: string): string {
  return protocol === 'mlflow' ? 'invocations' : `v2/models/${encodeURIComponent(deploymentName)}/infer`;
}

/** The prediction as people read it: `predictions` (MLflow) or the `outputs` data (v2), else the whole answer. */
export function formatAnswer(answer: unknown): string {
  if (answer && typeof answer === 'object') {
    const record = answer as Record<string, unknown>;
    if ('predictions' in record) {
      return JSON.stringify(record.predictions);
    }
    if (Array.isArray(record.outputs)) {
      return record.outputs
        .map(output => {
          const o = output as Record<string, unknown>;
          return `${String(o.name ?? 'output')}: ${JSON.stringify(o.data)}`;
        })
        .join('\n');
    }
  }
  return JSON.stringify(answer, null, 2);
}
