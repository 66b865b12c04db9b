/**
 * JupyterLab side of workbench: DICOM files and folders of the file browser open in the
 * workbench viewer of the in-Lab app (`<server>/workbench/files?path=P`, served by
 * `workbench_jupyter.local` behind the Jupyter server's own authentication).
 *
 * - a file type `dicom` (`.dcm`, `application/dicom`) whose default viewer is the
 *   workbench page, so a double click on a `.dcm` file opens it as a document;
 * - "Open in workbench" in the file browser's context menu for `.dcm` files, files
 *   without an extension and folders (files open as documents of that viewer, folders
 *   in a main-area tab of their own);
 * - the same command in the command palette: the file browser's selection, else the
 *   folder it shows.
 *
 * The page is shown in an iframe of the Lab: it is served on the Lab's origin, so the
 * Lab's log-in cookie reaches it and its scripts and WebSocket run as in a tab of their own.
 */

import { ILayoutRestorer } from '@jupyterlab/application';
import { ICommandPalette, IFrame, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ABCWidgetFactory, Base64ModelFactory, DocumentWidget } from '@jupyterlab/docregistry';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { LabIcon } from '@jupyterlab/ui-components';

import iconSvg from '../../workbench_jupyter/icons/workbench.svg';

const PLUGIN_ID = 'workbench-labextension:plugin';
const COMMAND = 'workbench:open';
const FILE_TYPE = 'dicom';
const FACTORY = 'Workbench';
const MODEL = 'workbench-no-content';
/** The in-Lab app's files page, relative to the server's base URL. */
const FILES_PAGE = 'workbench/files';

const icon = new LabIcon({ name: 'workbench:icon', svgstr: iconSvg });

/**
 * The URL of the workbench page for a file browser path.
 *
 * @param {string} path - a path relative to the contents root, as the file browser has it
 * @returns {string} `<baseUrl>workbench/files?path=<path>`
 */
function filesUrl(path) {
  return URLExt.join(PageConfig.getBaseUrl(), FILES_PAGE) + '?path=' + encodeURIComponent(path);
}

/**
 * Whether an item of the file browser may hold DICOM: a folder, a `.dcm` file or a file
 * without an extension (DICOM files often have none).
 *
 * @param {{type: string, name: string}} item - a contents model of the listing
 * @returns {boolean}
 */
function mayBeDicom(item) {
  if (item.type === 'directory') {
    return true;
  }
  if (item.type !== 'file') {
    return false;
  }
  const name = item.name.toLowerCase();
  return name.endsWith('.dcm') || !name.replace(/^\.+/, '').includes('.');
}

/**
 * An iframe showing the workbench page of `path`.
 *
 * @param {string} path - a path relative to the contents root
 * @returns {IFrame}
 */
function viewerFrame(path) {
  const frame = new IFrame({ referrerPolicy: 'same-origin' });
  // The page is this server's own (same origin, behind its authentication) and needs its
  // scripts, its WebSocket and its same-origin requests: a sandbox allowing scripts and
  // the same origin would be no sandbox, so the frame has none.
  frame.node.querySelector('iframe')?.removeAttribute('sandbox');
  frame.url = filesUrl(path);
  frame.addClass('wb-lab-frame');
  return frame;
}

/** A model factory that fetches no content: the page reads the file on the server. */
class NoContentModelFactory extends Base64ModelFactory {
  get name() {
    return MODEL;
  }

  get fileFormat() {
    return null;
  }
}

/** The default viewer of the `dicom` file type: the workbench page in a document tab. */
class WorkbenchFactory extends ABCWidgetFactory {
  createNewWidget(context) {
    const path = context.localPath;
    const widget = new DocumentWidget({ content: viewerFrame(path), context });
    widget.title.icon = icon;
    widget.title.caption = `${path} in the workbench viewer`;
    return widget;
  }
}

/**
 * Activate the extension.
 *
 * @param {import('@jupyterlab/application').JupyterFrontEnd} app
 * @param {import('@jupyterlab/filebrowser').IFileBrowserFactory} browsers
 * @param {ICommandPalette | null} palette
 * @param {ILayoutRestorer | null} restorer
 */
function activate(app, browsers, palette, restorer) {
  const { commands, docRegistry, serviceManager } = app;
  const tracker = new WidgetTracker({ namespace: 'workbench' });
  const local = path => serviceManager.contents.localPath(path);

  docRegistry.addFileType({
    name: FILE_TYPE,
    displayName: 'DICOM',
    extensions: ['.dcm'],
    mimeTypes: ['application/dicom'],
    contentType: 'file',
    fileFormat: 'base64',
    icon
  });
  docRegistry.addModelFactory(new NoContentModelFactory());
  docRegistry.addWidgetFactory(new WorkbenchFactory({
    name: FACTORY,
    label: 'Workbench',
    modelName: MODEL,
    fileTypes: [FILE_TYPE],
    defaultFor: [FILE_TYPE],
    readOnly: true
  }));

  /** The selected items of the file browser that may hold DICOM. */
  const selected = () => {
    const browser = browsers.tracker.currentWidget;
    return browser ? Array.from(browser.selectedItems()).filter(mayBeDicom) : [];
  };

  /**
   * What the command opens: its `path` (a folder), the selection, else the folder the
   * file browser shows.
   */
  const targets = args => {
    if (typeof args.path === 'string') {
      return [{ path: args.path, type: 'directory' }];
    }
    const items = selected().map(item => ({ path: item.path, type: item.type }));
    if (items.length || args.selection) {
      return items;
    }
    const browser = browsers.tracker.currentWidget;
    return browser ? [{ path: browser.model.path, type: 'directory' }] : [];
  };

  /** A file opens as a document (the `dicom` type's viewer), a folder in a tab. */
  const open = ({ path, type }) => {
    if (type === 'file') {
      return commands.execute('docmanager:open', { path, factory: FACTORY });
    }
    return openFolder(local(path));
  };

  const openFolder = path => {
    const id = `workbench-files:${path}`;
    const existing = tracker.find(widget => widget.id === id);
    if (existing) {
      app.shell.activateById(id);
      return existing;
    }
    const widget = new MainAreaWidget({ content: viewerFrame(path) });
    widget.id = id;
    widget.title.label = path ? path.split('/').pop() : '/';
    widget.title.caption = `${path || 'The contents root'} in the workbench viewer`;
    widget.title.icon = icon;
    widget.title.closable = true;
    widget.node.dataset.workbenchPath = path;
    void tracker.add(widget);
    app.shell.add(widget, 'main');
    app.shell.activateById(id);
    return widget;
  };

  commands.addCommand(COMMAND, {
    label: 'Open in workbench',
    caption: 'Show the DICOM file or folder in the workbench viewer (with "Upload to archive")',
    icon,
    isVisible: args => targets(args).length > 0,
    execute: args => Promise.all(targets(args).map(open))
  });

  app.contextMenu.addItem({
    command: COMMAND,
    args: { selection: true },
    selector: '.jp-DirListing-item[data-isdir]',
    rank: 3
  });
  if (palette) {
    palette.addItem({ command: COMMAND, category: 'Workbench' });
  }
  if (restorer) {
    void restorer.restore(tracker, {
      command: COMMAND,
      args: widget => ({ path: widget.node.dataset.workbenchPath }),
      name: widget => `/${widget.node.dataset.workbenchPath}`
    });
  }
}

/** The plugin JupyterLab loads. */
const plugin = {
  id: PLUGIN_ID,
  description: 'Open DICOM files and folders of the file browser in the workbench viewer.',
  autoStart: true,
  requires: [IFileBrowserFactory],
  optional: [ICommandPalette, ILayoutRestorer],
  activate
};

export default plugin;
