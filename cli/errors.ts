// How the command fails: a message for stderr and the exit code (1: the operation failed, 2: the command line is wrong).

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}
