// Loads the UI: `oa-ui.js` is the `wasm-bindgen --target web` output for the oa-ui crate.
// Initialising the module runs its start function, which mounts the app on <body>.
// Until then (or if that fails) the static #boot placeholder keeps the window from being blank.
import init from './oa-ui.js';

const boot = document.getElementById('boot');

// Until the UI has read the person's theme, follow the system's so the window never flashes.
document.documentElement.dataset.theme =
  window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';

init()
  .then(() => {
    boot?.remove();
  })
  .catch((error) => {
    console.error('Open Assistant UI failed to start', error);
    if (boot) {
      boot.classList.add('boot-failed');
      boot.querySelector('.boot-text').textContent =
        `The interface could not start: ${error}`;
    }
  });
