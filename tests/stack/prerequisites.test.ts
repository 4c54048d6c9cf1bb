// Tests never install packages themselves: what they need comes with the stack's setup.
import { IMAGE_TOOLS, requirePackages } from './prerequisites.ts';

describe('the packages a test requires', () => {
  it('names the missing packages and what installs them, installing nothing', async () => {
    await expect(requirePackages([['sh', 'dash'], ['no-such-command-here', 'no-such-package'], ['/no/such/file', 'other-package']], 'the stack installs them')).rejects.toThrow(
      'missing Debian packages no-such-package other-package: the stack installs them',
    );
  });

  it('passes when every command is there', async () => {
    await expect(requirePackages([['sh', 'dash']], 'unused')).resolves.toBeUndefined();
  });

  it('the image needs buildah to build it, runc to run it and skopeo to push it', () => {
    expect(IMAGE_TOOLS.map(([command]) => command).sort()).toEqual(['buildah', 'runc', 'skopeo']);
  });
});
