import * as path from 'node:path';
import { Menu, Tray, nativeImage } from 'electron';
import type { Overview } from '../api/contract';

export type TrayTone = 'good' | 'wait' | 'bad' | 'idle';

const ICON_DIR = path.join(__dirname, '..', '..', '..', 'renderer', 'static', 'tray');

/** good = every certificate active and ready; wait = one is issuing or resting; bad = one failed or blocked. */
export function trayTone(overview: Pick<Overview, 'certificates'>): { tone: TrayTone; text: string } {
  const certs = overview.certificates;
  const bad = certs.filter((c) => c.state === 'failed' || c.state === 'blocked');
  if (bad.length > 0) return { tone: 'bad', text: `${bad.map((c) => c.name).join(', ')} need${bad.length === 1 ? 's' : ''} attention` };
  const busy = certs.filter((c) => c.state === 'resting' || c.state === 'issuing' || c.state === 'checking');
  if (busy.length > 0) return { tone: 'wait', text: `${busy.length} certificate${busy.length === 1 ? '' : 's'} in progress` };
  if (certs.length === 0) return { tone: 'idle', text: 'No certificates yet' };
  return { tone: 'good', text: `${certs.length} certificate${certs.length === 1 ? '' : 's'}, all good` };
}

export class StatusTray {
  private readonly tray: Tray;

  constructor(private readonly actions: { open: () => void; quit: () => void }) {
    this.tray = new Tray(this.icon('idle'));
    this.tray.on('click', actions.open);
    this.update({ certificates: [] });
  }

  update(overview: Pick<Overview, 'certificates'>): void {
    const { tone, text } = trayTone(overview);
    this.tray.setImage(this.icon(tone));
    this.tray.setToolTip(`Homeport: ${text}`);
    this.tray.setContextMenu(
      Menu.buildFromTemplate([
        { label: text, enabled: false },
        { type: 'separator' },
        { label: 'Open Homeport', click: this.actions.open },
        { label: 'Quit Homeport', click: this.actions.quit },
      ]),
    );
  }

  destroy(): void {
    this.tray.destroy();
  }

  private icon(tone: TrayTone) {
    const image = nativeImage.createFromPath(path.join(ICON_DIR, `tray-${tone}.png`));
    // macOS draws template images in the menu bar's own colour; the coloured dot carries the state elsewhere.
    if (process.platform === 'darwin' && tone === 'idle') image.setTemplateImage(true);
    return image;
  }
}
