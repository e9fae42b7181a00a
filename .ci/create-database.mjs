// Creates the CI database named in the URL (dropping a previous one) by way of the `postgres` database.
import pg from 'pg';

const target = new URL(process.argv[2]);
const name = target.pathname.slice(1);
const admin = new URL(target);
admin.pathname = '/postgres';

const client = new pg.Client({ connectionString: admin.toString() });
await client.connect();
try {
  await client.query(`drop database if exists "${name}" with (force)`);
  await client.query(`create database "${name}"`);
  console.log(`created database ${name}`);
} finally {
  await client.end();
}
