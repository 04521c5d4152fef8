import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { ApiEvent, HomeportTransport } from '../main/api/contract';

/**
 * The only bridge between the page and the main process. It exposes the contract's named
 * methods and an event subscription, nothing else: no generic invoke/send, no ipcRenderer,
 * so a script injected into the page can do what the UI's buttons do and no more.
 * Sandboxed preloads may only require 'electron', so this file imports nothing else at run
 * time; the channel names are spelled out and the main process answers only these.
 */
const call = (channel: string) => (req?: unknown) => ipcRenderer.invoke(`homeport:${channel}`, req);

const api: HomeportTransport = {
  overview: call('overview'),
  getCertificate: call('getCertificate'),
  preflight: call('preflight'),
  issue: call('issue'),
  renew: call('renew'),
  removeCertificate: call('removeCertificate'),
  exportCertificate: call('exportCertificate'),
  addRoute: call('addRoute'),
  removeRoute: call('removeRoute'),
  getSettings: call('getSettings'),
  updateSettings: call('updateSettings'),
  onEvent(listener: (event: ApiEvent) => void) {
    const handler = (_e: IpcRendererEvent, event: ApiEvent) => listener(event);
    ipcRenderer.on('homeport:event', handler);
    return () => void ipcRenderer.off('homeport:event', handler);
  },
};

contextBridge.exposeInMainWorld('homeport', api);
