import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { avroToTypeScript } from './avro-to-typescript.js';

export const SCHEMA_DIRECTORY = new URL('../schemas/', import.meta.url);
export const GENERATED_FILE = new URL('../src/generated/avro-records.ts', import.meta.url);

export function generatedRecordTypes(): string {
  const files = readdirSync(SCHEMA_DIRECTORY)
    .filter((file) => file.endsWith('.avsc'))
    .sort();
  return avroToTypeScript(files.map((file) => readFileSync(new URL(file, SCHEMA_DIRECTORY), 'utf8')));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(GENERATED_FILE, generatedRecordTypes());
  console.log(`wrote ${GENERATED_FILE.pathname}`);
}
