// When things ran: a waterfall of the workflow's members (created, started, ended), and the
// selected signature's status changes.
import { useEffect, useState } from 'react';
import { api, type Detail } from './api';
import { STATUS_COLORS } from './Graph';
import { formatDuration } from './Progress';

type Row = Awaited<ReturnType<typeof api.waterfall>>[number];

export function Timeline({ root, detail, refreshKey }: { root: string; detail: Detail; refreshKey: unknown }) {
  const [rows, setRows] = useState<Row[]>([]);
  useEffect(() => {
    api.waterfall(root).then(setRows, () => setRows([]));
  }, [root, refreshKey]);
  const now = Date.now();
  const times = rows.flatMap((r) => [r.createdAt, r.start, r.end]).filter((t): t is number => t !== undefined);
  const running = rows.some((r) => r.start !== undefined && r.end === undefined);
  const t0 = Math.min(...times, now);
  // a bar still running reaches now: the scale does too
  const t1 = Math.max(...times, running ? now : t0 + 1, t0 + 1);
  const x = (t: number) => `${((t - t0) / (t1 - t0)) * 100}%`;
  return (
    <div className="timeline" data-testid="timeline">
      <div className="waterfall">
        {rows.map((r) => (
          <div className="wf-row" key={r.key}>
            <span className="wf-name" title={r.key}>
              {r.name ?? r.taskName}
            </span>
            <span className="wf-track">
              {r.start !== undefined && (
                <span
                  className="wf-bar"
                  style={{ left: x(r.start), width: `max(2px, calc(${x(r.end ?? now)} - ${x(r.start)}))`, background: STATUS_COLORS[r.status] }}
                  title={`${r.status}${r.end ? `, ${formatDuration(r.end - r.start)}` : ''}`}
                />
              )}
            </span>
          </div>
        ))}
      </div>
      <h4>status changes of {detail.name ?? detail.taskName}</h4>
      <table>
        <tbody>
          {detail.timeline.map((e, i) => (
            <tr key={i}>
              <td>{new Date(e.at).toLocaleTimeString()}</td>
              <td>
                {e.from ? `${e.from} → ` : ''}
                <b style={{ color: STATUS_COLORS[e.status] }}>{e.status}</b>
              </td>
              <td>{e.worker ?? ''}</td>
              <td>{e.attempt ? `attempt ${e.attempt}` : ''}</td>
              <td>{i > 0 ? `+${formatDuration(e.at - detail.timeline[i - 1]!.at)}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
