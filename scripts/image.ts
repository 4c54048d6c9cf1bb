// npm run image: builds the operator image from the Containerfile with buildah, on base images
// made from this machine's files, offline (tests/stack/operator-image.ts). Prints what it made.
import { ensureOperatorImage, LATEST_JSON } from '../tests/stack/operator-image.ts';

// The one place that may install buildah and fill the npm cache from the registry; tests do not.
const image = await ensureOperatorImage((line) => process.stderr.write(`[image] ${line}\n`), { mayFetch: true });
process.stdout.write(`${image.ref}\n`);
process.stderr.write(`[image] push it with: skopeo copy oci:${image.ociDir}:${image.tag} docker://<registry>/ecr-credential-sync:${image.tag}\n`);
process.stderr.write(`[image] details: ${LATEST_JSON}\n`);
