// Prints the scrypt hash of a client secret for the OAuth clients file: npm run hash-secret -- 'the secret'.
import { hashSecret } from '../auth/clients.js';

const secret = process.argv[2];
if (secret === undefined || secret.length < 16) {
  process.stderr.write('usage: npm run hash-secret -- <secret of at least 16 characters>\n');
  process.exit(2);
}
process.stdout.write((await hashSecret(secret)) + '\n');
