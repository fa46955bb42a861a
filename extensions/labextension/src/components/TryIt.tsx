/** "Try it": a JSON payload sent to a model deployment, and the prediction it answers. */

import * as React from 'react';

import { describeError } from '../errors';
import type { Lab } from '../lab';
import { EXAMPLE_PAYLOAD, endpointPath, formatAnswer, parsePayload, PROTOCOLS, type Protocol } from '../payload';
import type { Deployment } from '../types';
import { Alert } from './Alert';

export function TryIt({ lab, deployment }: { lab: Lab; deployment: Deployment }): JSX.Element {
  const [protocol, setProtocol] = React.useState<Protocol>('mlflow');
  const [payload, setPayload] = React.useState(EXAMPLE_PAYLOAD);
  const [answer, setAnswer] = React.useState<string | null>(null);
  const [problem, setProblem] = React.useState<string | null>(null);
  const [sending, setSending] = React.useState(false);
  const id = `mllab-payload-${deployment.full_name.replace(/[^A-Za-z0-9-]/g, '-')}`;

  const send = async (): Promise<void> => {
    const parsed = parsePayload(payload);
    setAnswer(null);
    if (parsed.error !== null) {
      setProblem(parsed.error);
      return;
    }
    setProblem(null);
    setSending(true);
    try {
      setAnswer(formatAnswer(await lab.api.invoke(deployment.full_name, endpointPath(protocol, deployment.name), parsed.value)));
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setSending(false);
    }
  };

  return (
    <section className="mllab-Section mllab-TryIt" aria-label="Try it">
      <h4>Try it</h4>
      <label className="mllab-Field">
        <span>Protocol</span>
        <select className="jp-mod-styled" value={protocol} onChange={e => setProtocol(e.target.value as Protocol)}>
          {PROTOCOLS.map(p => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      <label className="mllab-Field" htmlFor={id}>
        <span>JSON payload</span>
      </label>
      <textarea
        id={id}
        className="jp-mod-styled mllab-Payload"
        rows={6}
        spellCheck={false}
        value={payload}
        onChange={e => setPayload(e.target.value)}
      />
      <div className="mllab-Actions">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-accept"
          disabled={sending || deployment.status !== 'ready'}
          onClick={() => void send()}
        >
          {sending ? 'Sending…' : 'Send'}
        </button>
        {deployment.status !== 'ready' && <span className="mllab-Muted">The deployment answers once it is ready.</span>}
      </div>
      <Alert message={problem} />
      <div aria-live="polite">
        {answer !== null && (
          <>
            <h5>Prediction</h5>
            <pre className="mllab-Code mllab-Prediction">{answer}</pre>
          </>
        )}
      </div>
    </section>
  );
}
