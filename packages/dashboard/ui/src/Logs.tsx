// Log lines, live: filter by level, search the text, export as JSON lines.
import { useMemo, useState } from 'react';
import type { LogEntry } from './api';

const LEVELS = ['info', 'warn', 'error'] as const;

export function Logs({ entries, title, exportUrl }: { entries: LogEntry[]; title: string; exportUrl?: string }) {
  const [levels, setLevels] = useState<string[]>([...LEVELS]);
  const [text, setText] = useState('');
  const shown = useMemo(() => {
    const t = text.toLowerCase();
    return entries.filter((e) => levels.includes(e.level) && (!t || e.message.toLowerCase().includes(t) || JSON.stringify(e.fields ?? {}).toLowerCase().includes(t)));
  }, [entries, levels, text]);
  const download = () => {
    const blob = new Blob(shown.map((e) => JSON.stringify(e) + '\n'), { type: 'application/x-ndjson' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'mageflow-logs.jsonl';
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return (
    <div className="logs" data-testid="logs">
      <div className="logs-head">
        <strong>{title}</strong>
        {LEVELS.map((l) => (
          <label key={l}>
            <input type="checkbox" checked={levels.includes(l)} onChange={() => setLevels(levels.includes(l) ? levels.filter((x) => x !== l) : [...levels, l])} /> {l}
          </label>
        ))}
        <input placeholder="search logs" value={text} onChange={(e) => setText(e.target.value)} />
        <button onClick={download}>export shown (JSON lines)</button>
        {exportUrl && (
          <a href={exportUrl} download>
            export all
          </a>
        )}
      </div>
      <ol className="log-lines">
        {shown.map((e, i) => (
          <li key={`${e.key}-${e.at}-${i}`} className={`level-${e.level}`} data-level={e.level}>
            <time>{new Date(e.at).toLocaleTimeString()}</time> <span className="level">{e.level}</span> <span className="source">{e.source}</span>{' '}
            <span className="message">{e.message}</span> {e.fields && <code>{JSON.stringify(e.fields)}</code>} <span className="log-key">{e.key}</span>
          </li>
        ))}
        {shown.length === 0 && <li className="empty">No log lines yet.</li>}
      </ol>
    </div>
  );
}
