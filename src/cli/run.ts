// Entry point for running the CLI from source (`npm run dev`, tests): the same as bin/marktag.js.
import { main } from './main.js';

await main(process.argv.slice(2));
