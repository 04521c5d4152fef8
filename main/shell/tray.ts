import * as path from 'node:path';
import { Menu, Tray, nativeImage } from 'electron';
import type { Overview } from '../api/contract';
import { trayTone, type TrayTone } from './status';

const ICON_DIR = path.join(__dirname, '..', '..', '..', 'renderer', 'static', 'tray');

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
