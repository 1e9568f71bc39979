// The websocket to the game server, shared by every page.
//
// Messages are events, not request/reply pairs: other players' moves push `view`s at any
// time. `onOpen` runs after every (re)connect once the server's `welcome` arrived — pages
// re-send `resume` or `dashboard` there. Sends wait for the welcome; a dropped connection
// is reopened with a growing delay (250 ms doubling up to 10 s, each jittered by ±50 %).

export const PROTOCOL = 1;

export class Connection {
  constructor({ onMessage = () => {}, onOpen = () => {}, onClose = () => {}, url = defaultUrl() } = {}) {
    this.onMessage = onMessage;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.url = url;
    this.ready = false;
    this.queue = [];
    this.delay = 250;
    this.socket = null;
  }

  open() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "hello", protocol: PROTOCOL }));
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; ignore anything else
      }
      if (message.type === "welcome" && !this.ready) {
        this.ready = true;
        this.delay = 250;
        this.onOpen();
        for (const queued of this.queue.splice(0)) socket.send(queued);
        return;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.ready = false;
      this.onClose();
      // Between half and one and a half times the delay: when a server process dies, its whole
      // class must not reconnect to the survivor in the same instant.
      setTimeout(() => this.open(), this.delay * (0.5 + Math.random()));
      this.delay = Math.min(this.delay * 2, 10000);
    });
    return this;
  }

  send(message) {
    const text = JSON.stringify(message);
    if (this.ready && this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
    else this.queue.push(text);
  }
}

export function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

// What the browser remembers across reloads (localStorage, JSON).
export function saved(key) {
  try {
    const text = localStorage.getItem(`handshake.${key}`);
    return text === null ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

export function save(key, value) {
  localStorage.setItem(`handshake.${key}`, JSON.stringify(value));
}

export function forget(key) {
  localStorage.removeItem(`handshake.${key}`);
}
