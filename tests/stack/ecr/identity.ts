// Who an access key belongs to, as AWS knows it: moto's STS GetCallerIdentity answers by key
// alone (it ignores signatures), so the emulator asks it with the caller's key id.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

export class PrincipalResolver {
  private readonly cache = new Map<string, Promise<string>>();
  private readonly motoUrl: string;

  constructor(motoUrl: string) {
    this.motoUrl = motoUrl;
  }

  resolve(accessKeyId: string): Promise<string> {
    let pending = this.cache.get(accessKeyId);
    if (!pending) {
      pending = this.ask(accessKeyId);
      this.cache.set(accessKeyId, pending);
      // A failure (moto down) is not an answer: ask again next time.
      pending.catch(() => this.cache.delete(accessKeyId));
    }
    return pending;
  }

  private async ask(accessKeyId: string): Promise<string> {
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: this.motoUrl,
      credentials: { accessKeyId, secretAccessKey: 'unused' },
      maxAttempts: 2,
    });
    try {
      const out = await sts.send(new GetCallerIdentityCommand({}));
      if (!out.Arn) throw new Error(`GetCallerIdentity named no ARN for ${accessKeyId}`);
      return out.Arn;
    } finally {
      sts.destroy();
    }
  }
}

/** The account id in an ARN (`arn:aws:sts::<account>:…`). */
export function arnAccount(arn: string): string {
  return arn.split(':')[4] ?? '';
}
