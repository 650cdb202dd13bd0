// Asks a running calsync for mailboxes through a service account with the npm SDK's
// `authorizeWithServiceAccount`, one mailbox and a batch.
//
// Usage: node service_account.mjs BASE_URL SERVICE_ACCOUNT_ACCESS_TOKEN CALLBACK_URL
//
// The last stdout line is a JSON summary: each call's outcome ("ok", or the HTTP status of a
// refusal), and the status of a request for an address outside the service account's domain.
import Cronofy from 'cronofy';

const [baseUrl, accessToken, callbackUrl] = process.argv.slice(2);
const client = new Cronofy({ access_token: accessToken });
client.urls.api = baseUrl;

async function outcome (call) {
  try {
    await call();
    return 'ok';
  } catch (e) {
    return e.statusCode ?? `failed: ${e.message}`;
  }
}

const summary = {
  single: await outcome(() => client.authorizeWithServiceAccount({
    email: 'ada@corp.example', scope: 'read_events', callback_url: callbackUrl, state: 'node-one'
  })),
  batch: await outcome(() => client.authorizeWithServiceAccount({
    service_account_authorizations: [
      { email: 'grace@corp.example', scope: 'read_events', callback_url: callbackUrl },
      { email: 'alan@corp.example', scope: 'read_events', callback_url: callbackUrl, state: 'node-alan' }
    ],
    state: 'node-batch'
  })),
  outside_domain: await outcome(() => client.authorizeWithServiceAccount({
    email: 'eve@elsewhere.example', scope: 'read_events', callback_url: callbackUrl
  }))
};
console.log(JSON.stringify(summary));
