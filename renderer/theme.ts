import type { Settings } from '../main/api/contract';

/** "system" follows the OS through prefers-color-scheme; light/dark pin it. */
export function applyTheme(theme: Settings['theme']): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}
