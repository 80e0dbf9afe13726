// A container's progress: a bar split into done, failed and running, with the ETA from the observed rate.
import type { Progress } from './api';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function ProgressBar({ progress, compact = false }: { progress: Progress; compact?: boolean }) {
  const pct = (n: number) => (progress.total === 0 ? 0 : (n / progress.total) * 100);
  return (
    <div className={`progress${compact ? ' compact' : ''}`} data-testid="progress" data-fraction={progress.fraction.toFixed(4)}>
      <div className="progress-track">
        <div className="progress-done" style={{ width: `${pct(progress.done)}%` }} />
        <div className="progress-failed" style={{ width: `${pct(progress.failed)}%` }} />
        <div className="progress-running" style={{ width: `${pct(progress.running)}%` }} />
      </div>
      {!compact && (
        <div className="progress-text">
          {progress.done + progress.failed} of {progress.total} ended ({Math.round(progress.fraction * 100)}%)
          {progress.ratePerSec !== undefined && <> · {progress.ratePerSec.toFixed(progress.ratePerSec < 10 ? 2 : 0)}/s</>}
          {progress.etaMs !== undefined && <span data-testid="eta"> · ETA {formatDuration(progress.etaMs)}</span>}
        </div>
      )}
    </div>
  );
}
