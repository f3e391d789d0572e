// The login page: POST /api/v1/login, then back where the agent came from.
'use strict';

document.getElementById('title').textContent = t('appName');
document.getElementById('email-label').textContent = t('email');
document.getElementById('password-label').textContent = t('password');
document.getElementById('login-button').textContent = t('login');
document.getElementById('lang-switch').textContent = t('lang');
document.getElementById('lang-switch').addEventListener('click', () => {
  localStorage.setItem('lang', LANG === 'fr' ? 'en' : 'fr');
  location.reload();
});

// Only a path of this site: never an open redirect.
function nextPage() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  return /^\/[A-Za-z0-9._\-/?=&%]*$/.test(next) && !next.startsWith('//') ? next : '/';
}

document.getElementById('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const error = document.getElementById('login-error');
  error.textContent = '';
  try {
    const r = await api('POST', 'login', {
      email: document.getElementById('email').value,
      password: document.getElementById('password').value,
    });
    session.csrf = r.csrf;
    location.href = nextPage();
  } catch (e) {
    error.textContent = e.status === 401 ? t('wrongLogin') : e.message;
  }
});
document.getElementById('email').focus();
