// The Redis server of the Redis tests: a throwaway `redis-server`
// (`_redis_server.ts`) started per test, or the one named by MPQ_REDIS_URL.
// Where redis-server is missing the tests are ignored, unless
// MPQ_REDIS_REQUIRED=1 (CI), which makes that a failure.

import { RedisServer, redisServerPath } from "./_redis_server.ts";

export { RedisServer };

/** The server the user named, if any. */
export const GIVEN_URL = Deno.env.get("MPQ_REDIS_URL") ?? "";
/** CI sets this: a missing server fails the tests instead of ignoring them. */
const REQUIRED = Deno.env.get("MPQ_REDIS_REQUIRED") === "1";

const SERVER = redisServerPath();

/** Whether the tests that start their own server must be ignored. */
export const NO_SERVER = SERVER === "" && !REQUIRED;
/** Whether the tests that can use any server must be ignored. */
export const NO_REDIS = NO_SERVER && GIVEN_URL === "";

if (NO_REDIS) {
  console.log(
    "Redis tests ignored: redis-server is not installed " +
      "(apt-get install -y redis-server), and MPQ_REDIS_URL is not set",
  );
}
