// The status outbox in the local SQLite file: the StatusPort (SQS FIFO on AWS), plus reading
// the events back in the order they were published (`stepform logs`, the audit note).
/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous (SqliteStore) */
import { STATUS_EVENT, type StatusEvent } from '../../../core/contracts/status-event.ts';
import type { StatusPort } from '../../../core/ports.ts';
import { parseInput } from '../../../core/validation.ts';
import { type Row, SqliteStore, str } from './database.ts';

export interface OutboxRow {
  readonly seq: number;
  readonly runId: string;
  readonly phase: string;
  readonly body: unknown;
  readonly at: string;
}

export class SqliteOutbox extends SqliteStore implements StatusPort {
  /** Appends the event (validated again, as SQS's adapter does) after every earlier one. */
  async publish(event: StatusEvent): Promise<void> {
    const checked = parseInput(STATUS_EVENT, event, 'event');
    this.db
      .prepare('INSERT INTO outbox (run_id, phase, body, at) VALUES (?, ?, ?, ?)')
      .run(checked.runId, checked.phase, JSON.stringify(checked), checked.at);
  }

  /** Oldest first: every run's, or one run's. */
  list(runId?: string): OutboxRow[] {
    const rows = (
      runId === undefined
        ? this.db.prepare('SELECT * FROM outbox ORDER BY seq').all()
        : this.db.prepare('SELECT * FROM outbox WHERE run_id = ? ORDER BY seq').all(runId)
    ) as Row[];
    return rows.map((row) => ({
      seq: Number(row.seq),
      runId: str(row, 'run_id'),
      phase: str(row, 'phase'),
      body: JSON.parse(str(row, 'body')) as unknown,
      at: str(row, 'at'),
    }));
  }
}
