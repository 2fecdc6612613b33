// The sandbox page: one phone per person, kept in step with the emulated Telegram.
// Everything people typed is put into the page as text nodes, never as HTML: a message
// is drawn from its text and Telegram's entities, exactly as a Telegram client draws it.
"use strict";

const S = JSON.parse(document.getElementById("sandbox-strings").textContent);
const phones = new Map(); // chat id -> Phone
const pendingQueries = new Map(); // callback query id -> the pressed button
let clockOffset = 0; // application time minus this browser's time, in ms
let clockZone = "UTC";

// --- small helpers -------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : ""));
}

function safeHref(url) {
  try {
    const parsed = new URL(url);
    return ["http:", "https:", "tg:", "mailto:", "tel:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    answer = { error: response.statusText };
  }
  return { status: response.status, ok: response.ok, answer };
}

function toast(text, kind) {
  const box = el("div", "page-toast" + (kind ? " " + kind : ""), text);
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  document.getElementById("toasts").append(box);
  setTimeout(() => box.remove(), kind === "error" ? 8000 : 4000);
}

function timeOfDay(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString(document.documentElement.lang, {
    hour: "2-digit", minute: "2-digit", timeZone: clockZone,
  });
}

// --- Telegram's formatting: text + entities -> DOM ------------------------------------

const SIMPLE_TAGS = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code" };

function entityNode(entity, content, phone) {
  if (SIMPLE_TAGS[entity.type]) return el(SIMPLE_TAGS[entity.type]);
  switch (entity.type) {
    case "pre": {
      const pre = el("pre");
      if (entity.language) pre.dataset.language = entity.language;
      return pre;
    }
    case "spoiler": {
      const span = el("span", "spoiler");
      span.addEventListener("click", () => span.classList.add("revealed"));
      return span;
    }
    case "blockquote":
    case "expandable_blockquote":
      return el("blockquote");
    case "text_link":
    case "url": {
      const href = safeHref(entity.type === "url" ? (/^\w+:/.test(content) ? content : "http://" + content) : entity.url);
      if (!href) return el("span", "link");
      const a = el("a");
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
    case "phone_number": {
      const a = el("a");
      a.href = "tel:" + content.replace(/[^\d+]/g, "");
      return a;
    }
    case "bot_command": {
      const span = el("span", "command");
      span.addEventListener("click", () => phone && phone.write(content));
      return span;
    }
    default:
      return el("span", "entity-" + String(entity.type).replace(/[^a-z_]/g, ""));
  }
}

// Telegram's offsets count UTF-16 code units, as JavaScript strings do.
function renderFormatted(parent, text, entities, phone) {
  const sorted = [...(entities || [])]
    .filter((e) => Number.isInteger(e.offset) && Number.isInteger(e.length) && e.length > 0)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  function build(into, start, end, list) {
    let position = start;
    let i = 0;
    while (i < list.length) {
      const entity = list[i];
      const from = Math.max(entity.offset, position);
      const to = Math.min(entity.offset + entity.length, end);
      i += 1;
      const inner = [];
      while (i < list.length && list[i].offset < to) inner.push(list[i++]);
      if (from >= to) continue;
      if (from > position) into.append(text.slice(position, from));
      const node = entityNode(entity, text.slice(from, to), phone);
      build(node, from, to, inner);
      into.append(node);
      position = to;
    }
    if (position < end) into.append(text.slice(position, end));
  }
  build(parent, 0, text.length, sorted);
}

// --- one phone per person --------------------------------------------------------------

class Phone {
  constructor(person) {
    this.person = person;
    this.replyTo = null;
    this.messages = new Map(); // message id -> element
    const root = document.getElementById("phone-template").content.firstElementChild.cloneNode(true);
    root.dataset.chatId = person.id;
    root.dataset.testid = "chat-" + person.id;
    root.querySelector(".avatar").textContent = Array.from(person.name)[0] || "?";
    root.querySelector(".name").textContent = person.name;
    root.querySelector(".role").textContent = S.roles[person.role] || person.role;
    this.root = root;
    this.list = root.querySelector(".messages");
    this.input = root.querySelector(".input");
    this.keyboard = root.querySelector(".keyboard");
    this.empty = el("p", "empty", S.empty_chat);
    this.list.append(this.empty);
    root.querySelector(".composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value;
      if (!text.trim()) return;
      this.write(text, this.replyTo).then((ok) => { if (ok) this.input.value = ""; });
    });
    root.querySelector(".share-contact").addEventListener("click", () => this.shareContact());
    root.querySelector(".send-photo").addEventListener("click", () => {
      this.sendPhoto(this.input.value, this.replyTo).then((ok) => { if (ok) this.input.value = ""; });
    });
    this.menu = root.querySelector(".commands");
    this.menuButton = root.querySelector(".menu-button");
    this.menuButton.addEventListener("click", () => { this.menu.hidden = !this.menu.hidden; });
    root.querySelector(".reply-cancel").addEventListener("click", () => this.setReply(null));
    root.querySelector(".alert-ok").addEventListener("click", () => { root.querySelector(".alert").hidden = true; });
  }

  get path() {
    return "/sandbox/chats/" + this.person.id;
  }

  async write(text, replyTo) {
    const { ok, answer } = await post(this.path + "/messages", { text, reply_to: replyTo ?? null });
    if (!ok) toast(format(S.action_failed, { error: answer.error }), "error");
    else this.setReply(null);
    return ok;
  }

  async sendPhoto(caption, replyTo) {
    const { ok, answer } = await post(this.path + "/photo", { caption, reply_to: replyTo ?? null });
    if (!ok) toast(format(S.action_failed, { error: answer.error }), "error");
    else this.setReply(null);
    return ok;
  }

  async shareContact() {
    const { ok, answer } = await post(this.path + "/contact");
    if (!ok) toast(format(S.action_failed, { error: answer.error }), "error");
  }

  async press(button, messageId, data) {
    button.classList.add("pending");
    const { ok, answer } = await post(this.path + "/buttons", { message_id: messageId, data });
    if (!ok) {
      button.classList.remove("pending");
      toast(format(S.action_failed, { error: answer.error }), "error");
      return;
    }
    pendingQueries.set(answer.callback_query_id, button);
    // Telegram stops the spinner after a while even when the bot never answers
    setTimeout(() => { button.classList.remove("pending"); pendingQueries.delete(answer.callback_query_id); }, 15000);
  }

  setReply(message) {
    const bar = this.root.querySelector(".reply-bar");
    this.replyTo = message ? message.id : null;
    bar.hidden = !message;
    this.root.querySelector(".reply-text").textContent = message ? (message.text || S[message.kind] || "").slice(0, 80) : "";
    if (message) this.input.focus();
  }

  showAnswer(text, asAlert) {
    if (!text) return;
    if (asAlert) {
      this.root.querySelector(".alert-text").textContent = text;
      this.root.querySelector(".alert").hidden = false;
      return;
    }
    const box = this.root.querySelector(".toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { box.hidden = true; }, 3000);
  }

  reset(chat) {
    for (const node of this.messages.values()) node.remove();
    this.messages.clear();
    for (const message of chat.messages) this.upsert(message);
    this.markUnread(0);
    this.setKeyboard(chat.keyboard);
    this.setCommands(chat.commands);
    this.scrollToEnd();
  }

  upsert(message) {
    const nearEnd = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    const node = this.messageNode(message);
    const old = this.messages.get(message.id);
    if (!old && !this.root.classList.contains("active")) this.markUnread(1);
    if (old) {
      old.replaceWith(node);
    } else {
      const later = [...this.messages.keys()].filter((id) => id > message.id).sort((a, b) => a - b)[0];
      if (later !== undefined) this.list.insertBefore(node, this.messages.get(later));
      else this.list.append(node);
    }
    this.messages.set(message.id, node);
    this.empty.hidden = this.messages.size > 0;
    if (!old && nearEnd) this.scrollToEnd();
  }

  // on a narrow screen only one chat shows: the others' tabs count what arrived meanwhile
  markUnread(count) {
    this.unread = count ? (this.unread || 0) + count : 0;
    const badge = this.tab.querySelector(".badge");
    badge.textContent = this.unread ? String(this.unread) : "";
    badge.hidden = !this.unread;
  }

  remove(messageId) {
    const node = this.messages.get(messageId);
    if (node) node.remove();
    this.messages.delete(messageId);
    this.empty.hidden = this.messages.size > 0;
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  messageNode(message) {
    const node = el("div", "message " + (message.out ? "out" : "in"));
    node.dataset.messageId = message.id;
    node.dataset.kind = message.kind;
    if (message.reply_to) {
      node.append(el("div", "quote", message.reply_to.text || "…"));
    }
    if (message.kind !== "text") {
      const media = el("div", "media media-" + message.kind);
      if (message.kind === "contact") {
        media.textContent = "👤 " + S.contact + ": " + message.contact.first_name + ", " + message.contact.phone_number;
      } else {
        media.textContent = (message.kind === "photo" ? "🖼 " : "📄 ") + (S[message.kind] || message.kind);
      }
      node.append(media);
    }
    if (message.text) {
      const body = el("div", "text");
      renderFormatted(body, message.text, message.entities, this);
      node.append(body);
    }
    const meta = el("div", "meta");
    if (message.edited) meta.append(el("span", "edited", S.edited + " "));
    meta.append(el("span", "time", timeOfDay(message.date)));
    const reply = el("button", "reply", "↩");
    reply.type = "button";
    reply.title = S.reply;
    reply.setAttribute("aria-label", S.reply);
    reply.addEventListener("click", () => this.setReply(message));
    meta.append(reply);
    node.append(meta);
    if (message.buttons.length) node.append(this.inlineKeyboard(message));
    return node;
  }

  inlineKeyboard(message) {
    const keyboard = el("div", "inline-keyboard");
    for (const row of message.buttons) {
      const line = el("div", "row");
      for (const spec of row) {
        const button = el("button", "inline-button", spec.text);
        button.type = "button";
        if (spec.data !== undefined) {
          button.dataset.callbackData = spec.data;
          button.addEventListener("click", () => this.press(button, message.id, spec.data));
        } else if (spec.url && safeHref(spec.url)) {
          button.classList.add("url");
          button.addEventListener("click", () => window.open(safeHref(spec.url), "_blank", "noopener"));
        } else {
          button.disabled = true;
        }
        line.append(button);
      }
      keyboard.append(line);
    }
    return keyboard;
  }

  setCommands(commands) {
    this.menu.replaceChildren();
    this.menuButton.hidden = !commands.length;
    if (!commands.length) this.menu.hidden = true;
    for (const { command, description } of commands) {
      const item = el("button", "command-item");
      item.type = "button";
      item.append(el("span", "command", "/" + command), " ", el("span", "description", description));
      item.addEventListener("click", () => {
        this.menu.hidden = true;
        this.write("/" + command, null);
      });
      this.menu.append(item);
    }
  }

  setKeyboard(keyboard) {
    this.keyboard.replaceChildren();
    this.keyboard.hidden = !keyboard;
    this.input.placeholder = (keyboard && keyboard.placeholder) || S.message_placeholder;
    if (!keyboard) return;
    for (const row of keyboard.rows) {
      const line = el("div", "row");
      for (const spec of row) {
        const button = el("button", "keyboard-button", spec.text);
        button.type = "button";
        button.addEventListener("click", async () => {
          if (keyboard.one_time) this.keyboard.hidden = true;
          if (spec.request_contact) await this.shareContact();
          else await this.write(spec.text, null);
        });
        line.append(button);
      }
      this.keyboard.append(line);
    }
  }
}

// --- the page --------------------------------------------------------------------------

function showPhone(id) {
  for (const [chatId, phone] of phones) {
    const active = chatId === id;
    phone.root.classList.toggle("active", active);
    phone.tab.classList.toggle("active", active);
    if (active) phone.markUnread(0);
    phone.tab.setAttribute("aria-selected", String(active));
  }
}

function buildPhones(people) {
  const container = document.getElementById("phones");
  const tabs = document.getElementById("tabs");
  container.replaceChildren();
  tabs.replaceChildren();
  phones.clear();
  for (const person of people) {
    const phone = new Phone(person);
    phone.tab = el("button", "tab", person.name);
    phone.tab.type = "button";
    const badge = el("span", "badge");
    badge.hidden = true;
    phone.tab.append(badge);
    phone.tab.setAttribute("role", "tab");
    phone.tab.addEventListener("click", () => showPhone(person.id));
    tabs.append(phone.tab);
    container.append(phone.root);
    phones.set(person.id, phone);
  }
  if (people.length) showPhone(people[0].id);
}

function setClock(clock) {
  clockOffset = Date.parse(clock.now) - Date.now();
  clockZone = clock.zone;
  drawClock();
}

function drawClock() {
  const now = new Date(Date.now() + clockOffset);
  const clock = document.getElementById("clock");
  clock.dateTime = now.toISOString();
  clock.textContent = now.toLocaleString(document.documentElement.lang, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: clockZone,
  }) + " (" + clockZone + ")";
}

function apply(event) {
  const phone = phones.get(event.chat_id);
  switch (event.type) {
    case "snapshot":
      setClock(event.clock); // first: message times are shown in the application's zone
      document.getElementById("intake-url").textContent = event.intake.url || "";
      if (phones.size !== event.people.length) buildPhones(event.people);
      for (const [id, chat] of Object.entries(event.chats)) phones.get(Number(id))?.reset(chat);
      break;
    case "message":
      if (phone) {
        phone.upsert(event.message);
        phone.setKeyboard(event.keyboard);
      }
      break;
    case "commands":
      if (phone) phone.setCommands(event.commands);
      break;
    case "deleted":
      if (phone) phone.remove(event.message_id);
      break;
    case "answer": {
      const button = pendingQueries.get(event.query_id);
      if (button) button.classList.remove("pending");
      pendingQueries.delete(event.query_id);
      if (phone) phone.showAnswer(event.text, event.show_alert);
      break;
    }
    case "clock":
      setClock(event);
      break;
  }
}

function connect() {
  const offline = document.getElementById("offline");
  const source = new EventSource("/sandbox/events");
  source.onopen = () => { offline.hidden = true; };
  source.onmessage = (message) => apply(JSON.parse(message.data));
  source.onerror = () => { offline.hidden = false; }; // EventSource reconnects by itself
}

function setUpWebForm() {
  const dialog = document.getElementById("web-form-dialog");
  const form = document.getElementById("web-form");
  const error = document.getElementById("web-form-error");
  let nextSample = 0;
  document.getElementById("open-web-form").addEventListener("click", () => {
    // each opening offers the next sample person, so every Send is a new lead
    const sample = S.samples[nextSample++ % S.samples.length];
    for (const [name, value] of Object.entries(sample)) form.elements[name].value = value;
    error.hidden = true;
    dialog.showModal();
  });
  document.getElementById("web-form-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = {};
    for (const [key, value] of new FormData(form)) if (String(value).trim()) fields[key] = String(value);
    const { status, answer } = await post("/sandbox/web-form", fields);
    if (status === 201 || status === 200) {
      const text = status === 201 ? S.lead_created : answer.duplicate_of ? S.lead_appended : S.lead_known;
      toast(format(text, { id: answer.id }), "ok");
      dialog.close();
      return;
    }
    const reason = answer.field ? answer.field + ": " + answer.error : answer.error;
    error.textContent = format(S.intake_refused, { status, error: reason });
    error.hidden = false;
  });
}

function setUpClock() {
  for (const button of document.querySelectorAll("[data-jump]")) {
    button.addEventListener("click", async () => {
      const { ok, answer } = await post("/sandbox/clock", { jump: button.dataset.jump });
      if (ok) setClock(answer);
      else toast(format(S.action_failed, { error: answer.error }), "error");
    });
  }
  setInterval(drawClock, 15000);
}

setUpWebForm();
setUpClock();
connect();
