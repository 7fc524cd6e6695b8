/**
 * TypeScript declarations for the Avro schemas in shared/schemas, so that the
 * hand-written record types in shared/src/records.ts (which carry the docs and
 * narrower unions) can be checked against what the registry really encodes
 * and decodes: one source for record shapes (issue 11, item 6).
 *
 * Two types per record: `Avro<Name>` is what a decoder returns (every field
 * present, defaults filled in) and `Avro<Name>Input` what an encoder accepts
 * (fields with a default may be left out).
 */

type AvroType = string | AvroType[] | { type: string; [key: string]: unknown };

interface AvroField {
  name: string;
  type: AvroType;
  default?: unknown;
}

interface NamedDeclaration {
  name: string;
  text: string;
}

const PRIMITIVES: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  string: 'string',
  bytes: 'Buffer',
};

class Declarations {
  private readonly byName = new Map<string, NamedDeclaration[]>();

  add(avroName: string, declarations: NamedDeclaration[]): void {
    const known = this.byName.get(avroName);
    if (known === undefined) {
      this.byName.set(avroName, declarations);
      return;
    }
    // The same record type may be spelled out in several schema files (each .avsc stands alone); they must agree.
    const same = known.length === declarations.length && known.every((declaration, i) => declaration.text === declarations[i]?.text);
    if (!same) throw new Error(`Avro type ${avroName} is defined twice, differently`);
  }

  text(): string {
    return [...this.byName.values()]
      .flat()
      .map((declaration) => declaration.text)
      .join('\n\n');
  }
}

function typeExpression(type: AvroType, declarations: Declarations, mode: 'read' | 'write'): string {
  if (typeof type === 'string') {
    const primitive = PRIMITIVES[type];
    if (primitive !== undefined) return primitive;
    return `Avro${type}${mode === 'write' ? 'Input' : ''}`;
  }
  if (Array.isArray(type)) return type.map((member) => typeExpression(member, declarations, mode)).join(' | ');
  switch (type.type) {
    case 'record':
      declareRecord(type as unknown as { name: string; fields: AvroField[] }, declarations);
      return `Avro${String(type.name)}${mode === 'write' ? 'Input' : ''}`;
    case 'enum':
      declarations.add(String(type.name), [
        { name: `Avro${String(type.name)}`, text: `export type Avro${String(type.name)} = ${(type.symbols as string[]).map((symbol) => `'${symbol}'`).join(' | ')};` },
      ]);
      return `Avro${String(type.name)}`;
    case 'array':
      return `Array<${typeExpression(type.items as AvroType, declarations, mode)}>`;
    case 'map':
      return `Record<string, ${typeExpression(type.values as AvroType, declarations, mode)}>`;
    default:
      // A primitive with a logical type (timestamp-millis on a long): the registry's decoder returns the primitive.
      return typeExpression(type.type, declarations, mode);
  }
}

function declareRecord(record: { name: string; fields: AvroField[] }, declarations: Declarations): void {
  const body = (mode: 'read' | 'write'): string =>
    record.fields
      .map((field) => `  ${field.name}${mode === 'write' && field.default !== undefined ? '?' : ''}: ${typeExpression(field.type, declarations, mode)};`)
      .join('\n');
  const read = `export interface Avro${record.name} {\n${body('read')}\n}`;
  const write = `export interface Avro${record.name}Input {\n${body('write')}\n}`;
  declarations.add(record.name, [
    { name: `Avro${record.name}`, text: read },
    { name: `Avro${record.name}Input`, text: write },
  ]);
}

/** The declarations file for the given schema texts (in a stable order: the caller sorts them). */
export function avroToTypeScript(schemas: readonly string[]): string {
  const declarations = new Declarations();
  for (const schema of schemas) typeExpression(JSON.parse(schema) as AvroType, declarations, 'read');
  return [
    '// Generated from shared/schemas/*.avsc by `npm run generate:records`; do not edit.',
    '// shared/test/records-match-avro.test.ts checks that it is current and that records.ts agrees with it.',
    '',
    declarations.text(),
    '',
  ].join('\n');
}
