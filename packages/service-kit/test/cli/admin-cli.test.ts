import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CliInputError, fields, readFirstLine, table, text } from '../../src/cli/admin-cli.js';

function stream(chunks: Array<string | Buffer>, isTTY = false) {
  return Object.assign(Readable.from(chunks), { isTTY });
}

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CliInputError);
  return (error as Error).message;
}

describe('readFirstLine', () => {
  it('returns the first line without its newline, keeping spaces', async () => {
    expect(await readFirstLine(stream([' pass word \nsecond\n']))).toBe(' pass word ');
    expect(await readFirstLine(stream(['crlf\r\n']))).toBe('crlf');
    expect(await readFirstLine(stream(['no newline at all']))).toBe('no newline at all');
    expect(await readFirstLine(stream([]))).toBe('');
    expect(await readFirstLine(stream(['\nafter']))).toBe('');
  });

  it('joins chunks, including a character split between two of them', async () => {
    const bytes = Buffer.from('pässwörd😀\n', 'utf8');
    expect(await readFirstLine(stream([bytes.subarray(0, 2), bytes.subarray(2, 11), bytes.subarray(11)]))).toBe(
      'pässwörd😀',
    );
    expect(await readFirstLine(stream(['ab', 'cd\r', '\nef']))).toBe('abcd');
  });

  it('stops reading at the first newline, even when the writer never ends', async () => {
    let produced = 0;
    const endless = Object.assign(
      new Readable({
        read() {
          produced += 1;
          this.push(produced === 1 ? 'secret-line\nmore' : 'x'.repeat(1024));
        },
      }),
      { isTTY: false },
    );
    expect(await readFirstLine(endless)).toBe('secret-line');
    expect(endless.destroyed).toBe(true);
  });

  it('refuses a terminal, an overlong line and invalid UTF-8', async () => {
    expect(await refusal(readFirstLine(stream(['typed\n'], true)))).toMatch(/^stdin is a terminal: pipe the secret in/);
    expect(await refusal(readFirstLine(stream(['x'.repeat(20), 'y\n']), 16))).toBe(
      'the first line of stdin is longer than 16 bytes',
    );
    expect(await readFirstLine(stream(['x'.repeat(16), '\n']), 16)).toBe('x'.repeat(16));
    expect(await refusal(readFirstLine(stream([Buffer.from([0x61, 0xff, 0x0a])])))).toBe('stdin is not valid UTF-8');
  });
});

describe('output helpers', () => {
  it('escapes control characters, aligns fields and table columns', () => {
    expect(text('a\u001b[2Jb\u0085\t')).toBe('a\\u001b[2Jb\\u0085\\u0009');
    expect(
      fields([
        ['id', '1'],
        ['long label', 'x'],
      ]),
    ).toEqual(['  id          1', '  long label  x']);
    expect(
      table([
        ['A', 'BB', 'C'],
        ['aaa', 'b', ''],
      ]),
    ).toEqual(['A    BB  C', 'aaa  b']);
  });
});
