import { Socket } from 'node:net';

export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** Whether Redis answers on the test machine (CI always has it; a developer's machine may not). */
function redisAnswers(): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(300);
    socket.once('connect', () => done(true)).once('error', () => done(false)).once('timeout', () => done(false));
    socket.connect(6379, '127.0.0.1');
  });
}

/** True when Redis answers; in CI its absence fails the test rather than skipping it. */
export async function redisForTest(): Promise<boolean> {
  if (await redisAnswers()) return true;
  if (process.env.CI) throw new Error('CI expects Redis on 127.0.0.1:6379');
  return false;
}
