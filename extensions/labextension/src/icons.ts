/** The panels' icons (SVGs in style/icons, recoloured by the theme through `jp-icon3`). */

import { LabIcon } from '@jupyterlab/ui-components';

import datasetsSvg from '../style/icons/datasets.svg';
import deploymentsSvg from '../style/icons/deployments.svg';
import modelsSvg from '../style/icons/models.svg';

export const datasetsIcon = new LabIcon({ name: 'mllab:datasets', svgstr: datasetsSvg });
export const modelsIcon = new LabIcon({ name: 'mllab:models', svgstr: modelsSvg });
export const deploymentsIcon = new LabIcon({ name: 'mllab:deployments', svgstr: deploymentsSvg });
