/** An error with a stable machine-readable code and a reason a person can act on. */
export class SluiceError extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${reason}`, options);
    this.name = 'SluiceError';
  }
}
