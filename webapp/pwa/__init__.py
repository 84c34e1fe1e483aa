"""The portal as an installable app: web app manifest, service worker, icons, drafts and offline pages."""
