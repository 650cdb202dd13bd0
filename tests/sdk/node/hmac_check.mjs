// Asks the npm cronofy SDK whether a push notification's Cronofy-HMAC-SHA256 header is valid.
// Usage: node hmac_check.mjs CLIENT_SECRET HEADER BODY_FILE; prints `valid` or `invalid`.
import { readFileSync } from "node:fs";
import Cronofy from "cronofy";

const [secret, header, bodyFile] = process.argv.slice(2);
const client = new Cronofy({ client_id: "unused", client_secret: secret });
const body = readFileSync(bodyFile, "utf8");
console.log(client.hmacValid({ hmac: header, body, client_secret: secret }) ? "valid" : "invalid");
