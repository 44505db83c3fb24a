// Runs `rxssh keygen` as its own process (for tests: real exit codes, file modes, stdout).
import process from "node:process";
import { keygenMain } from "../lib/cli/keygen.ts";

process.exit(await keygenMain(process.argv.slice(2)));
