import pg from 'pg';
import { uniqueName } from './names.ts';

export interface TestSchema {
  name: string;
  /** DATABASE_URL whose connections use this schema (search_path) and nothing else. */
  url: string;
  /** Drops the schema this helper created, and only it. */
  drop: () => Promise<void>;
}

/** A fresh Postgres schema for one test file, so files run in parallel against one database. */
export async function createTestSchema(databaseUrl: string, prefix = 't'): Promise<TestSchema> {
  const name = uniqueName(prefix).toLowerCase();
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withSearchPath(databaseUrl, name);
  return {
    name,
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

export function withSearchPath(databaseUrl: string, schema: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}
