// Uploads from the browser: a new version of an artifact, sent in parts, resumable.
//
// The registry's upload session (API.md, "Uploads"): declare the files with their sizes and
// sha256, send the bytes the registry does not hold yet, complete. Files are hashed and sent
// in slices, so a file of any size costs a slice of memory. The session's id is kept in
// localStorage under the picked files' names, sizes and dates: picking the same files again
// (after a reload, a broken connection, a closed tab) asks the registry what it already has
// and sends only the rest.

import { sha256 } from "./vendor/noble-hashes/sha2.js";
import { bytesToHex } from "./vendor/noble-hashes/utils.js";
import { ApiError, api, formatBytes, page, pathOf } from "./api.js";

const MiB = 1024 * 1024;
const HASH_SLICE = 4 * MiB;
const STORE_PREFIX = "mllab-upload:";

/** The registry's part size for a file (API.md): whole MiB, at least 8, at most 10,000 parts. */
export function partSize(size) {
  return Math.max(8 * MiB, Math.ceil(Math.ceil(size / 10000) / MiB) * MiB);
}

/** A picked file's path in the version: below the picked folder, or its name when picked alone. */
export function versionPath(file) {
  const parts = (file.webkitRelativePath || "").split("/");
  return parts.length > 1 ? parts.slice(1).join("/") : file.name;
}

function storeKey(files) {
  const identity = files.map((f) => `${versionPath(f)}|${f.size}|${f.lastModified}`).join("/");
  return `${STORE_PREFIX}${page.api}${identity}`;
}

/** The interrupted upload of these files, if one was recorded: {id, kind, namespace, name, sha256}. */
export function recordedUpload(files) {
  const saved = localStorage.getItem(storeKey(files));
  return saved ? JSON.parse(saved) : null;
}

async function hashFile(file, onBytes) {
  const hash = sha256.create();
  for (let offset = 0; offset < file.size; offset += HASH_SLICE) {
    const slice = new Uint8Array(await file.slice(offset, offset + HASH_SLICE).arrayBuffer());
    hash.update(slice);
    onBytes(slice.length);
  }
  return bytesToHex(hash.digest());
}

function put(url, body, headers, onProgress, withCookie) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.withCredentials = withCookie;
    for (const [key, value] of Object.entries(headers)) xhr.setRequestHeader(key, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        // The registry answers JSON ({received}); S3 answers an empty body.
        resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
        return;
      }
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // S3 answers XML; the status says enough
      }
      reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new Error("The connection broke."));
    xhr.onabort = () => reject(new Error("The upload was stopped."));
    xhr.send(body);
  });
}

/**
 * Upload `files` as a new version of `kind` `namespace/name` (a model's with `lineage`).
 * `report({phase, done, total, message})` is called as it goes; resolves to the Version.
 */
export async function upload({ kind, namespace, name, files, lineage, report }) {
  const key = storeKey(files);
  let session = await resumable(files, { kind, namespace, name });
  if (!session) {
    const total = files.reduce((sum, f) => sum + f.size, 0);
    let hashed = 0;
    const hashes = [];
    for (const file of files) {
      hashes.push(await hashFile(file, (n) => {
        hashed += n;
        report({ phase: "hash", done: hashed, total, message: `Checking ${file.name}…` });
      }));
    }
    const declared = files.map((file, i) => ({
      path: versionPath(file), size: file.size, sha256: hashes[i], ...(file.type ? { media_type: file.type } : {}),
    }));
    const body = { files: declared, ...(lineage ? { lineage } : {}) };
    const answer = await api(`${kind}/${pathOf(namespace, name)}/uploads`, { method: "POST", json: body });
    if (answer.unchanged) return { ...answer.version, unchanged: true };
    session = answer;
    localStorage.setItem(key, JSON.stringify({ id: session.id, kind, namespace, name }));
  }
  await send(session, files, report);
  report({ phase: "complete", message: "Checking what was received…" });
  const version = await api(`uploads/${session.id}/complete`, { method: "POST" });
  localStorage.removeItem(key);
  return version;
}

/** The open session recorded for these files and this artifact, as the registry sees it now; else null. */
async function resumable(files, artifact) {
  const record = recordedUpload(files);
  if (!record) return null;
  if (record.kind !== artifact.kind || record.namespace !== artifact.namespace || record.name !== artifact.name) {
    return null;
  }
  try {
    const session = await api(`uploads/${record.id}`);
    if (session.status === "open") return session;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status >= 500) throw error;
  }
  localStorage.removeItem(storeKey(files));
  return null;
}

/** Send every blob the session still needs, part after part, reporting the bytes the registry holds. */
async function send(session, files, report) {
  const byPath = new Map(files.map((file) => [versionPath(file), file]));
  const pending = new Map();
  for (const entry of session.files) {
    if (!entry.present && entry.transfer && entry.transfer.method !== "none") pending.set(entry.sha256, entry);
  }
  const total = [...pending.values()].reduce((sum, entry) => sum + entry.size, 0);
  let done = [...pending.values()].reduce((sum, entry) => sum + received(entry.transfer), 0);
  const resumedFrom = done;
  const progress = (inFlight) => report({
    phase: "send", done: done + inFlight, total,
    message: resumedFrom ? `Resumed: ${formatBytes(resumedFrom)} had been sent before.` : "Sending…",
  });
  progress(0);
  for (const entry of pending.values()) {
    const file = byPath.get(entry.path);
    const { transfer } = entry;
    if (transfer.method === "stream") {
      const url = new URL(transfer.url, location.href);
      const step = partSize(entry.size);
      for (let offset = transfer.offset; offset < entry.size;) {
        const slice = file.slice(offset, Math.min(offset + step, entry.size));
        const answer = await put(`${url.pathname}?offset=${offset}`, slice,
          { "X-XSRFToken": page.xsrf, "Content-Type": "application/octet-stream" }, progress, true);
        done += answer.received - offset;
        offset = answer.received;
        progress(0);
      }
    } else if (transfer.method === "s3-multipart") {
      for (const part of transfer.parts) {
        if (part.done) continue;
        const start = (part.number - 1) * transfer.part_size;
        await put(part.url, file.slice(start, start + part.size),
          { "Content-Type": "application/octet-stream", ...part.headers }, progress, false);
        done += part.size;
        progress(0);
      }
    } else {
      throw new Error(`The registry asks for a transfer this page cannot make (${transfer.method}).`);
    }
  }
}

function received(transfer) {
  if (transfer.method === "stream") return transfer.offset;
  if (transfer.method === "s3-multipart") return transfer.received || 0;
  return 0;
}

/** `name=value` lines as an object; values that read as numbers are numbers (`numbers`: they must). */
export function parsePairs(text, what, numbers) {
  const pairs = {};
  for (const [index, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    const key = at > 0 ? line.slice(0, at).trim() : "";
    const raw = at > 0 ? line.slice(at + 1).trim() : "";
    const number = raw === "" ? NaN : Number(raw);
    if (!key || (numbers && !Number.isFinite(number))) {
      throw new Error(`${what}, line ${index + 1}: write name=${numbers ? "number" : "value"}.`);
    }
    pairs[key] = Number.isFinite(number) ? number : raw;
  }
  return pairs;
}

/** A model's lineage from the form's fields (templates/upload_form.html); null for datasets. */
function lineageOf(form) {
  const { datasets, metrics, params } = form.elements;
  if (!datasets) return null;
  return {
    datasets: datasets.value.split(",").map((ref) => ref.trim()).filter(Boolean),
    metrics: parsePairs(metrics.value, "Metrics", true),
    params: parsePairs(params.value, "Parameters", false),
  };
}

/** Wire an upload form (templates/upload_form.html); `onDone(version)` after each upload. */
export function bindUploadForm(form, kind, onDone) {
  const inputs = [form.querySelector("#upload-files"), form.querySelector("#upload-folder")];
  const bar = form.querySelector("#upload-progress");
  const status = form.querySelector("#upload-status");
  const button = form.querySelector("#upload-submit");
  const picked = () => inputs.flatMap((input) => [...input.files]);

  const report = ({ phase, done, total, message }) => {
    if (total !== undefined) {
      const percent = total ? Math.floor((100 * done) / total) : 100;
      bar.classList.remove("d-none");
      bar.setAttribute("aria-valuenow", String(percent));
      bar.setAttribute("aria-valuetext", `${phase === "hash" ? "Checked" : "Sent"} ${percent}%`);
      bar.firstElementChild.style.width = `${percent}%`;
      bar.firstElementChild.textContent = `${percent}%`;
      bar.dataset.phase = phase;
    }
    status.className = "mt-2 mb-0 small";
    status.textContent = total ? `${message} ${formatBytes(done)} of ${formatBytes(total)}` : message;
  };
  const refuse = (message) => {
    status.className = "mt-2 mb-0 small text-danger";
    status.textContent = message;
  };

  const run = async () => {
    const files = picked();
    const namespace = form.elements.namespace.value;
    const name = form.elements.name.value.trim();
    if (!files.length || !name || !form.elements.name.checkValidity()) {
      refuse(!files.length ? "Pick one or more files, or a folder." : "Give a valid name.");
      return;
    }
    let lineage;
    try {
      lineage = lineageOf(form);
    } catch (error) {
      refuse(error.message);
      return;
    }
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const version = await upload({ kind, namespace, name, files, lineage, report });
      status.className = "mt-2 mb-0 small text-success";
      status.textContent = version.unchanged
        ? `Unchanged: the files equal version ${version.number}.`
        : `Uploaded ${version.ref}.`;
      bar.dataset.phase = "done";
      for (const input of inputs) input.value = "";
      onDone(version);
    } catch (error) {
      const again = recordedUpload(files) ? " Pick the same files again to resume." : "";
      refuse(`Upload failed: ${error.message}${again}`);
      bar.dataset.phase = "failed";
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  // Picking files an interrupted upload was sending resumes it at once, into the same artifact.
  const resume = () => {
    const files = picked();
    const record = files.length ? recordedUpload(files) : null;
    if (!record || record.kind !== kind || button.disabled) return;
    if (form.elements.name.type === "hidden"
        && (record.namespace !== form.elements.namespace.value || record.name !== form.elements.name.value)) {
      return;
    }
    form.elements.namespace.value = record.namespace;
    form.elements.name.value = record.name;
    status.textContent = `Resuming the interrupted upload to ${record.namespace}/${record.name}…`;
    run();
  };
  for (const input of inputs) input.addEventListener("change", resume);
}
