// Reads [{"shardId","partitionKey","sequenceNumber","data"(base64)}] on stdin and prints, as JSON, every user
// record the official KPL deaggregator recovers: [{"shardId","partitionKey","data"(utf-8)}]. A record that
// is not aggregated comes back as itself, as the library does for plain records.
'use strict';
const agg = require('aws-kinesis-agg');

let input = '';
process.stdin.on('data', chunk => { input += chunk; });
process.stdin.on('end', () => {
  const out = [];
  for (const record of JSON.parse(input)) {
    agg.deaggregateSync(
      { partitionKey: record.partitionKey, sequenceNumber: record.sequenceNumber, data: record.data },
      true,
      (err, userRecords) => {
        if (err) {
          console.error(`deaggregation failed for ${record.sequenceNumber}: ${err}`);
          process.exit(1);
        }
        for (const u of userRecords) {
          out.push({ shardId: record.shardId, partitionKey: u.partitionKey, data: Buffer.from(u.data, 'base64').toString('utf8') });
        }
      });
  }
  process.stdout.write(JSON.stringify(out));
});
