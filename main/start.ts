// Placeholder until the shell/headless work lands: `npm start` reaches here.
process.stdout.write('Homeport engine: the app shell is not built yet; use the `homeport` CLI.\n');
